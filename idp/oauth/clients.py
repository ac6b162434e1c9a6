"""Client registration. The secret is returned once, at creation or rotation; only its digest is kept."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import SplitResult, urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from idp.oauth.client_cache import forget_client
from idp.oauth.errors import ClientRegistrationError
from idp.oauth.models import Client
from idp.opaque import digest, new_secret

GRANT_TYPES = {"authorization_code", "refresh_token", "client_credentials"}
ACCESS_TOKEN_FORMATS = ("jwt", "opaque")
BASE_SCOPES = {"openid", "profile", "email", "offline_access", "events:write", "admin"}
_LOCAL = {"localhost", "127.0.0.1", "::1"}


def _split(uri: str, what: str) -> SplitResult:
    """The URI's parts, or ClientRegistrationError when it is not a URI (an unclosed IPv6 bracket, a port that
    is not a number from 0 to 65535)."""
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 -- parsed on access: raises ValueError when malformed or out of range
    except ValueError as exc:
        raise ClientRegistrationError(f"{what} is not a valid URI ({exc}): {uri!r}") from None
    return parts


def _check_redirect_uri(uri: str) -> str:
    parts = _split(uri, "redirect URI")
    if parts.fragment or not parts.scheme:
        raise ClientRegistrationError(f"redirect URI must be absolute without a fragment: {uri!r}")
    if parts.scheme == "http" and parts.hostname not in _LOCAL:
        raise ClientRegistrationError(f"plain-http redirect URIs are allowed only for localhost: {uri!r}")
    if parts.scheme in {"javascript", "data", "file"}:
        raise ClientRegistrationError(f"unsafe redirect URI scheme: {uri!r}")
    if parts.scheme in {"http", "https"} and not parts.hostname:
        raise ClientRegistrationError(f"redirect URI has no host: {uri!r}")
    return uri


def create_client(
    db: Session, *, name: str, redirect_uris: Iterable[str] = (), grant_types: Iterable[str] = ("authorization_code",
    "refresh_token"), scope: str = "openid profile email offline_access", public: bool = False,
    first_party: bool = False, admin: bool = False, post_logout_redirect_uris: Iterable[str] = (),
    organization_id: str | None = None, id_token_alg: str = "RS256", access_token_format: str = "jwt",  # noqa: S107
    resource_server: bool = False, events_by_email: bool = False,
    logo_uri: str | None = None, initiate_login_uri: str | None = None,
) -> tuple[Client, str | None]:
    """A new client and its secret (None for public clients). ``resource_server``: it may introspect tokens
    issued to other clients."""
    grants = list(dict.fromkeys(grant_types))
    check_web_uri("logo_uri", logo_uri)
    check_web_uri("initiate_login_uri", initiate_login_uri)
    uris, logout = list(redirect_uris), list(post_logout_redirect_uris)
    check_metadata(grant_types=grants, redirect_uris=uris, post_logout_redirect_uris=logout, public=public,
                   id_token_alg=id_token_alg, access_token_format=access_token_format)
    scopes = scope.split()
    if admin and "admin" not in scopes:
        scopes.append("admin")
    secret = None if public else new_secret()
    client = Client(
        client_id=new_secret(16), secret_hash=digest(secret) if secret else None, name=name,
        redirect_uris=uris, post_logout_redirect_uris=logout,
        grant_types=grants, scope=" ".join(dict.fromkeys(scopes)),
        token_endpoint_auth_method="none" if public else "client_secret_basic",
        first_party=first_party, admin=admin, organization_id=organization_id,
        id_token_signed_response_alg=id_token_alg, access_token_format=access_token_format,
        resource_server=resource_server, disabled=False, events_by_email=events_by_email,
        logo_uri=logo_uri or None, initiate_login_uri=initiate_login_uri or None,
    )
    db.add(client)
    db.flush()
    return client, secret


def rotate_secret(db: Session, client: Client) -> str:
    if client.is_public:
        raise ClientRegistrationError("public clients have no secret")
    secret = new_secret()
    client.secret_hash = digest(secret)
    forget_client(db, client.client_id)
    return secret


def list_clients(db: Session) -> list[Client]:
    return list(db.scalars(select(Client).order_by(Client.created_at)))


class InvalidClientField(ClientRegistrationError):
    """Refused registration metadata, naming the field (``redirect_uris[1]``) for admin tools."""

    def __init__(self, field: str, description: str) -> None:
        super().__init__(description)
        self.field = field


def check_web_uri(field: str, uri: str | None) -> None:
    """``logo_uri`` and ``initiate_login_uri`` (OpenID Connect Registration §2): https, or http on localhost;
    empty means none."""
    if not uri:
        return
    try:
        parts = _split(uri, field)
    except ClientRegistrationError as exc:
        raise InvalidClientField(field, exc.description) from None
    if len(uri) > 2000 or parts.scheme not in {"https", "http"} or not parts.hostname or parts.fragment:
        raise InvalidClientField(field, f"{field} must be an absolute https URL without a fragment")
    if parts.scheme == "http" and parts.hostname not in _LOCAL:
        raise InvalidClientField(field, f"{field} must use https (plain http only for localhost)")


def check_metadata(
    *, grant_types: list[str], redirect_uris: list[str], post_logout_redirect_uris: list[str], public: bool,
    id_token_alg: str = "RS256", access_token_format: str = "jwt",  # noqa: S107
) -> None:
    """The checks ``create_client`` makes, raising ``InvalidClientField`` with the field at fault."""
    unknown = set(grant_types) - GRANT_TYPES
    if unknown:
        raise InvalidClientField("grant_types", f"unsupported grant types: {sorted(unknown)}")
    if not grant_types:
        raise InvalidClientField("grant_types", "at least one grant type is needed")
    for field, uris in (("redirect_uris", redirect_uris), ("post_logout_redirect_uris", post_logout_redirect_uris)):
        for index, uri in enumerate(uris):
            try:
                _check_redirect_uri(uri)
            except ClientRegistrationError as exc:
                raise InvalidClientField(f"{field}[{index}]", exc.description) from exc
    if "authorization_code" in grant_types and not redirect_uris:
        raise InvalidClientField("redirect_uris", "authorization_code clients need at least one redirect URI")
    if public and "client_credentials" in grant_types:
        raise InvalidClientField("grant_types", "public clients cannot use client_credentials")
    if id_token_alg not in {"RS256", "ES256"}:
        raise InvalidClientField("id_token_signed_response_alg", "id_token_signed_response_alg must be RS256 or ES256")
    if access_token_format not in ACCESS_TOKEN_FORMATS:
        raise InvalidClientField("access_token_format", "access_token_format must be jwt or opaque")


def update_client(
    db: Session, client: Client, *, name: str | None = None, redirect_uris: Iterable[str] | None = None,
    post_logout_redirect_uris: Iterable[str] | None = None, grant_types: Iterable[str] | None = None,
    scope: str | None = None, first_party: bool | None = None, admin: bool | None = None,
    access_token_format: str | None = None, resource_server: bool | None = None, disabled: bool | None = None,
    logo_uri: str | None = None, initiate_login_uri: str | None = None,
    events_by_email: bool | None = None,
) -> None:
    """Change what is given, checked as at registration (an empty ``logo_uri`` or ``initiate_login_uri``
    removes it). An admin client always has the ``admin`` scope; taking ``admin`` away takes the scope away
    too. A disabled client's tokens are inactive at once (``idp.oauth.resource_access``), and it cannot
    authenticate until enabled again."""
    grants = list(dict.fromkeys(grant_types)) if grant_types is not None else list(client.grant_types)
    uris = list(redirect_uris) if redirect_uris is not None else list(client.redirect_uris)
    logout = (list(post_logout_redirect_uris) if post_logout_redirect_uris is not None
              else list(client.post_logout_redirect_uris))
    check_metadata(grant_types=grants, redirect_uris=uris, post_logout_redirect_uris=logout,
                   public=client.is_public, id_token_alg=client.id_token_signed_response_alg,
                   access_token_format=access_token_format or client.access_token_format)
    scopes = (scope if scope is not None else client.scope).split()
    is_admin = client.admin if admin is None else admin
    if is_admin and "admin" not in scopes:
        scopes.append("admin")
    if admin is False:
        scopes = [s for s in scopes if s != "admin"]
    if name is not None:
        client.name = name
    client.grant_types = grants
    client.redirect_uris = uris
    client.post_logout_redirect_uris = logout
    client.scope = " ".join(dict.fromkeys(scopes))
    client.admin = is_admin
    if first_party is not None:
        client.first_party = first_party
    if access_token_format is not None:
        client.access_token_format = access_token_format
    if resource_server is not None:
        client.resource_server = resource_server
    if disabled is not None:
        client.disabled = disabled
    for field, value in (("logo_uri", logo_uri), ("initiate_login_uri", initiate_login_uri)):
        if value is not None:
            check_web_uri(field, value)
            setattr(client, field, value or None)
    if events_by_email is not None:
        client.events_by_email = events_by_email
    forget_client(db, client.client_id)
    db.flush()


def clients_page(db: Session, *, offset: int = 0, limit: int = 50) -> tuple[list[Client], int]:
    total = db.scalar(select(func.count()).select_from(Client)) or 0
    rows = db.scalars(select(Client).order_by(Client.created_at, Client.client_id).offset(offset).limit(limit))
    return list(rows), total


def delete_client(db: Session, client: Client) -> None:
    """Its grants, codes, refresh tokens and consents go with it (the foreign keys cascade)."""
    forget_client(db, client.client_id)
    db.delete(client)
    db.flush()


DASHBOARD_CLIENT_ID = "canary-dashboard"


def ensure_dashboard_client(db: Session, issuer: str) -> Client:
    """The dashboard signs administrators in through Canary like any first-party app (public, PKCE)."""
    redirect = f"{issuer}/dashboard/callback"
    client = db.get(Client, DASHBOARD_CLIENT_ID)
    if client is None:
        client = Client(client_id=DASHBOARD_CLIENT_ID, secret_hash=None, name="Canary dashboard",
                        redirect_uris=[redirect], post_logout_redirect_uris=[f"{issuer}/dashboard"],
                        grant_types=["authorization_code"], scope="openid profile email",
                        token_endpoint_auth_method="none", first_party=True)
        db.add(client)
    elif client.redirect_uris != [redirect]:
        client.redirect_uris = [redirect]
        client.post_logout_redirect_uris = [f"{issuer}/dashboard"]
        forget_client(db, client.client_id)
    db.flush()
    return client
