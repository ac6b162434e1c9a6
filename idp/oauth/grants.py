"""Authlib grants bound to Canary's storage (RFC 6749 §4.1, §4.4, §6; RFC 7636; OpenID Connect Core §3.1.3).

The grants read the per-request database session from ``request.db`` (set by ``idp.oauth.server``) and
issue tokens through ``TokenService``. OpenID Connect (ID tokens) and activity recording hang off Authlib's
``after_create_token_response`` hook, as extensions, not inside grant code.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, NoReturn, Protocol

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidScopeError
from authlib.oauth2.rfc7636 import CodeChallenge
from sqlalchemy import select, update

from idp.accounts.factors.levels import SINGLE
from idp.accounts.models import LoginSession, User
from idp.oauth import refresh_tokens
from idp.oauth.claims import user_claims
from idp.oauth.models import AuthorizationCode, Client
from idp.oauth.refresh_tokens import NewRefreshToken, PresentedRefreshToken
from idp.oauth.tokens import TokenService
from idp.opaque import digest

# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ); an error description may hold no other character.
_SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")

TokenResult = tuple[int, dict[str, Any], list[tuple[str, str]]]
# on_token(db, grant_type, client, user, scope) -> what to run once the token's transaction has committed
TokenReporter = Callable[[Any, str, Client, User | None, str, str | None], Callable[[], None] | None]
log = logging.getLogger("canary.oauth")


class TokenServer(Protocol):
    tokens: TokenService


def _user(db: Any, user_id: str) -> User | None:
    user = db.get(User, user_id)
    return None if user is None or user.disabled else user


class IssuesTokens:
    """Replaces Authlib's token generator: every grant issues through ``TokenService`` with its context."""

    request: Any
    server: Any
    GRANT_TYPE: str

    def generate_token(self, user: User | None = None, scope: str | None = None, grant_type: str | None = None,
                       expires_in: int | None = None, include_refresh_token: bool = True) -> dict[str, Any]:
        tokens: TokenService = self.server.tokens
        client: Client = self.request.client
        scope = scope or ""
        grant_id, auth_time, sid = self.grant_context()
        access, ttl = tokens.access_token(client=client, subject=user.id if user else client.client_id,
                                          scope=scope, grant_id=grant_id, auth_time=auth_time)
        token: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "expires_in": ttl, "scope": scope}
        if include_refresh_token and user is not None and grant_id is not None and auth_time is not None:
            refresh = tokens.new_refresh_token(grant_id=grant_id, client=client, user_id=user.id,
                                               scope=self.refresh_token_scope(scope), auth_time=auth_time, sid=sid)
            self.keep_refresh_token(refresh)
            token["refresh_token"] = refresh.value
        return token

    def keep_refresh_token(self, token: NewRefreshToken) -> None:
        refresh_tokens.store(self.request.db, token)

    def refresh_token_scope(self, scope: str) -> str:
        """The scope of the refresh token issued with an access token of ``scope``."""
        return scope

    def grant_context(self) -> tuple[str | None, datetime | None, str | None]:
        return None, None, None


class AuthorizationCodeGrant(IssuesTokens, grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def grant_context(self) -> tuple[str | None, datetime | None, str | None]:
        code: AuthorizationCode = self.request.authorization_code
        return code.grant_id, code.auth_time, code.sid

    def validate_token_request(self) -> None:
        """Authlib's checks, which compare redirect_uri only when the authorization request sent one (RFC 6749
        §4.1.3); a code whose redirect_uri was the client's default may be redeemed without it, but not with
        another."""
        super().validate_token_request()
        code: AuthorizationCode = self.request.authorization_code
        sent = self.request.payload.redirect_uri
        if sent is not None and sent != code.redirect_uri:
            raise InvalidGrantError("Invalid 'redirect_uri' in request.")

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        if not code or len(code) > 512:
            return None
        db = self.request.db
        row: AuthorizationCode | None = db.get(AuthorizationCode, digest(code), with_for_update=True)
        if row is None or row.client_id != client.client_id:
            return None
        if row.used_at is not None:
            # RFC 6749 §4.1.2: a code used twice revokes what was issued from it.
            self.server.tokens.revoke_grant(db, row.grant_id)
            db.commit()
            raise InvalidGrantError("authorization code was already used; its tokens are revoked")
        if row.expires_at <= self.server.tokens.clock.now():
            return None
        if not self.server.tokens.grant_active(db, row.grant_id):
            return None
        return row

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        # Atomic single use: of two concurrent redemptions exactly one updates the row.
        db = self.request.db
        spent = db.execute(update(AuthorizationCode)
                           .where(AuthorizationCode.code_hash == authorization_code.code_hash,
                                  AuthorizationCode.used_at.is_(None))
                           .values(used_at=self.server.tokens.clock.now())
                           .execution_options(synchronize_session=False))
        if spent.rowcount != 1:
            db.rollback()
            self.server.tokens.revoke_grant(db, authorization_code.grant_id)
            db.commit()
            raise InvalidGrantError("authorization code was already used; its tokens are revoked")

    def authenticate_user(self, authorization_code: AuthorizationCode) -> User | None:
        return _user(self.request.db, authorization_code.user_id)

    def save_authorization_code(self, code: str, request: Any) -> None:  # codes are issued by idp.oauth.authorize
        raise AssertionError("codes are not issued through Authlib")


class PKCE(CodeChallenge):  # type: ignore[misc]
    """RFC 7636 §4.6 verification at the token endpoint; S256 only (plain is refused at /authorize)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]


class RefreshTokenGrant(IssuesTokens, grants.RefreshTokenGrant):
    """RFC 6749 §6 with rotation (RFC 9700 §4.14.2): each use spends the presented token and issues a successor
    of the same scope; a spent token presented again by its client revokes its grant, the whole family.

    The rotation is the last step, after both signatures (access token, then the ID token in its hook): on SQLite
    the database's write gate is then held for the two writes and the commit only, not for the signing.
    """

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True  # rotation
    successor: NewRefreshToken | None = None

    def grant_context(self) -> tuple[str | None, datetime | None, str | None]:
        old: PresentedRefreshToken = self.request.refresh_token
        return old.grant_id, old.auth_time, old.sid

    def refresh_token_scope(self, scope: str) -> str:
        """RFC 6749 §6: a narrower ``scope`` narrows this response's access and ID tokens only; the successor keeps
        the presented token's scope, so a later refresh may ask for anything the grant covers again."""
        presented: PresentedRefreshToken = self.request.refresh_token
        return presented.scope

    def authenticate_refresh_token(self, refresh_token: str) -> PresentedRefreshToken | None:
        tokens: TokenService = self.server.tokens
        row = self.request.prefetched  # read on the event loop already (PostgreSQL), else looked up here
        if row is None:
            row = tokens.presented_refresh_token(self.request.db, refresh_token)
        if row is None or not row.check_client(self.request.client):
            # RFC 6749 §6: another client's token is plain invalid_grant; its owner's family is left alone.
            return None
        if row.spent:
            # Reuse of a rotated refresh token: assume theft, revoke the whole family.
            self.revoke_family(row.grant_id)
        return row if row.usable(tokens.clock.now()) else None

    def authenticate_user(self, refresh_token: PresentedRefreshToken) -> User | None:
        return refresh_token.user

    def keep_refresh_token(self, token: NewRefreshToken) -> None:
        self.successor = token  # stored by the rotation, below

    def revoke_old_credential(self, refresh_token: PresentedRefreshToken) -> None:
        """Nothing yet: the presented token is spent by the rotation, once the response is complete."""

    def create_token_response(self) -> TokenResult:
        result: TokenResult = super().create_token_response()  # Authlib's, with its hooks (ID token, event)
        tokens: TokenService = self.server.tokens
        assert self.successor is not None
        presented: PresentedRefreshToken = self.request.refresh_token
        if self.request.prefetched is not None:  # the server rotates it, awaited on the event loop
            self.request.rotation = (presented.token_hash, self.successor)
            return result
        if not tokens.rotate_refresh_token(self.request.db, presented.token_hash, self.successor,
                                           tokens.clock.now()):
            # A concurrent request used it first: the same reuse as above.
            self.revoke_family(presented.grant_id)
        return result

    def revoke_family(self, grant_id: str) -> NoReturn:
        db = self.request.db
        db.rollback()
        self.server.tokens.revoke_grant(db, grant_id)
        db.commit()
        raise InvalidGrantError("refresh token was already used; the token family is revoked")


class ClientCredentialsGrant(IssuesTokens, grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def validate_requested_scope(self) -> None:
        """RFC 6749 §5.2 ``invalid_scope``: a scope the client is not registered for is refused, not dropped."""
        scope = self.request.payload.scope
        if scope:
            client: Client = self.request.client
            allowed = client.allowed_scopes()
            refused = [s for s in dict.fromkeys(scope.split()) if s not in allowed]
            if refused and not all(map(_SCOPE_TOKEN.fullmatch, refused)):
                raise InvalidScopeError(description="a scope may hold only printable ASCII characters, without "
                                                    "double quotes or backslashes (RFC 6749 section 3.3)")
            if refused:
                raise InvalidScopeError(description=f"this client is not registered for the scope "
                                                    f"{' '.join(refused)!r}")

    def generate_token(self, user: User | None = None, scope: str | None = None, grant_type: str | None = None,
                       expires_in: int | None = None, include_refresh_token: bool = True) -> dict[str, Any]:
        client: Client = self.request.client
        allowed = client.get_allowed_scope(scope) if scope else " ".join(
            s for s in client.scope.split() if s not in {"openid", "profile", "email", "offline_access"})
        return super().generate_token(None, allowed, grant_type, expires_in, include_refresh_token=False)


class OpenIDConnect:
    """Adds the ID token to code and refresh responses when the scope has ``openid``."""

    def __call__(self, grant: Any) -> None:
        grant.register_hook("after_create_token_response", self.add_id_token)

    def add_id_token(self, grant: Any, result: TokenResult) -> None:
        _, token, _ = result
        if "openid" not in token.get("scope", "").split():
            return
        request = grant.request
        user: User = request.user
        code: AuthorizationCode | None = request.authorization_code
        source = code if code is not None else request.refresh_token
        if code is None:  # the refresh token's look-up read its login session too
            amr, acr = self.session_methods(request.refresh_token.session_methods)
        else:
            amr, acr = self.methods(request.db, source.sid)
        token["id_token"] = grant.server.tokens.id_token(
            client=request.client, user=user, claims=user_claims(user, token["scope"]),
            auth_time=source.auth_time, access_token=token["access_token"],
            nonce=code.nonce if code is not None else None, sid=source.sid, amr=amr, acr=acr,
        )

    @staticmethod
    def methods(db: Any, sid: str | None) -> tuple[list[str] | None, str | None]:
        """``amr`` and ``acr`` of the login session the code (or the refresh token's family) came from. A session
        keeps them for its life (a step-up starts a new one), so a refreshed ID token repeats them."""
        if sid is None:
            return None, None
        row = db.execute(select(LoginSession.amr, LoginSession.acr).where(LoginSession.sid == sid)).first()
        return OpenIDConnect.session_methods(None if row is None else (row.amr, row.acr))

    @staticmethod
    def session_methods(found: tuple[str, str | None] | None) -> tuple[list[str] | None, str | None]:
        if found is None:
            return None, None
        amr, acr = found
        return amr.split(), acr or SINGLE


class ActivityHook:
    """Reports each issued token (usage analytics) once the token's transaction has committed: a token that was
    rolled back is not reported.

    ``on_token(db, grant_type, client, user, scope)`` runs inside the transaction, so what it reads (the user's
    organization) shares the request's connection instead of opening another after the commit; it returns what
    to run once the transaction has committed (hand the event over), or None.
    """

    def __init__(self, on_token: TokenReporter) -> None:
        self.on_token = on_token

    def __call__(self, grant: Any) -> None:
        grant.register_hook("after_create_token_response", self.report)

    def report(self, grant: Any, result: TokenResult) -> None:
        request = grant.request
        user = request.user
        presented = getattr(request, "refresh_token", None)
        known = presented.sole_organization if isinstance(presented, PresentedRefreshToken) else None
        # A client's own token needs no organization look-up, nor a refresh's (its look-up read it).
        db = request.db if user is not None and known is None else None
        try:
            after_commit = self.on_token(db, grant.GRANT_TYPE, request.client, user, result[1].get("scope", ""),
                                         known)
        except Exception:  # usage analytics never turn an issued token into an error
            log.exception("could not prepare the token event")
            return
        if after_commit is not None:
            request.after_commit.append(after_commit)
