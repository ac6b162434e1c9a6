"""Token introspection (RFC 7662) and revocation (RFC 7009) over Authlib's endpoints.

Who may introspect (RFC 7662 §2.1 leaves it to the server, §4 asks it to limit what is disclosed): the token's
own client, and clients registered as resource servers (``Client.resource_server``); for anyone else every token
is ``{"active": false}``. The answer carries no claim the token's scope does not cover: the user's e-mail
(``username``) only with the ``email`` scope. A token whose client is deleted or disabled is inactive.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from idp.accounts.models import User
from idp.oauth.errors import InvalidTokenError
from idp.oauth.models import Client, RefreshToken
from idp.oauth.resource_access import ResourceAccess
from idp.oauth.tokens import TokenService

CLIENT_AUTH = ["client_secret_basic", "client_secret_post", "none"]


@dataclass
class PresentedToken:
    """An access token's claims or a refresh token's row, as found for a presented string."""

    client_id: str
    claims: dict[str, Any] | None = None
    refresh: RefreshToken | None = None
    username: str | None = None
    expired: bool = False  # by the token service's clock, when found

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.client_id

    def is_expired(self) -> bool:
        return self.expired

    def is_revoked(self) -> bool:
        return self.refresh.spent_at is not None if self.refresh is not None else False


def find_token(server: Any, request: Any, value: str, hint: str | None) -> PresentedToken | None:
    """The usable access token or live refresh token ``value`` is, or None."""
    tokens: TokenService = server.tokens
    access: ResourceAccess = server.access
    db = request.db
    order = ["refresh_token", "access_token"] if hint == "refresh_token" else ["access_token", "refresh_token"]
    for kind in order:
        if kind == "access_token":
            try:
                claims = access.verify(value, db=db)
            except InvalidTokenError:
                continue
            return PresentedToken(client_id=claims["client_id"], claims=claims)
        row = tokens.find_refresh_token(db, value)
        if row is not None and tokens.grant_active(db, row.grant_id) and _client_active(db, row.client_id):
            return PresentedToken(client_id=row.client_id, refresh=row, expired=row.expires_at <= tokens.clock.now())
    return None


def check_params(request: Any) -> None:
    """``token`` is required. ``token_type_hint`` is optional and only a hint (RFC 7662 §2.1, RFC 7009 §2.1): an
    unknown one is ignored and every type searched, where Authlib's check refuses it with
    ``unsupported_token_type``."""
    if "token" not in request.form:
        raise InvalidRequestError("token is missing")


def _client_active(db: Any, client_id: str) -> bool:
    client = db.get(Client, client_id)
    return client is not None and not client.disabled


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    # RFC 7662 §2.1: the caller must authenticate; public clients cannot introspect.
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def authenticate_token(self, request: Any, client: Client) -> PresentedToken | None:
        # Authlib's query_token gets no request, and this endpoint object serves every thread: the request (and
        # its database session) is passed along here instead of being kept on the object.
        check_params(request)
        token = find_token(self.server, request, request.form["token"], request.form.get("token_type_hint"))
        if token is None or not self.check_permission(token, client, request):
            return None
        if token.claims is not None and "gid" in token.claims and "email" in str(token.claims.get("scope")).split():
            user = request.db.get(User, token.claims["sub"])
            token.username = user.email if user is not None else None
        return token

    def check_permission(self, token: PresentedToken, client: Client, request: Any) -> bool:
        return token.check_client(client) or client.resource_server

    def introspect_token(self, token: PresentedToken) -> dict[str, Any]:
        if token.claims is not None:
            c = token.claims
            names = ("scope", "client_id", "sub", "aud", "iss", "exp", "iat", "jti")
            out: dict[str, Any] = {k: c[k] for k in names if k in c}
            out.update(active=True, token_type="Bearer")
            if token.username is not None:
                out["username"] = token.username
            return out
        row = token.refresh
        assert row is not None
        return {
            "active": True, "token_type": "refresh_token", "scope": row.scope, "client_id": row.client_id,
            "sub": row.user_id, "exp": int(row.expires_at.timestamp()), "iat": int(row.issued_at.timestamp()),
            "iss": self.server.tokens.policy.issuer,
        }


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = CLIENT_AUTH

    def authenticate_token(self, request: Any, client: Client) -> PresentedToken | None:
        check_params(request)
        token = find_token(self.server, request, request.form["token"], request.form.get("token_type_hint"))
        # RFC 7009 §2.2: tokens that are unknown, or not the requesting client's, still get a 200.
        return token if token is not None and token.check_client(client) else None

    def revoke_token(self, token: PresentedToken, request: Any) -> None:
        tokens: TokenService = self.server.tokens
        if token.refresh is not None:
            # Revoking a refresh token revokes its family and the access tokens issued from it.
            tokens.revoke_grant(request.db, token.refresh.grant_id, tokens.clock.now())
        elif token.claims is not None:
            tokens.revoke_access_token(request.db, token.claims)
