"""JSON Schemas (2020-12) of the admin API's bodies: ``components/schemas`` of the OpenAPI document.

Request schemas are also what ``idp.web.admin.validation`` enforces, so they only use the keywords it knows.
Response schemas forbid unknown properties, so that a new field in a response fails the tests until it is
documented here. Modules add their own with ``define``.
"""

from __future__ import annotations

from typing import Any

from idp.accounts.service import MIN_PASSWORD
from idp.oauth.clients import ACCESS_TOKEN_FORMATS, GRANT_TYPES

COMPONENTS: dict[str, dict[str, Any]] = {}
_REF = "#/components/schemas/"


def ref(name: str) -> dict[str, Any]:
    return {"$ref": _REF + name}


def define(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    """Register a component schema; returns the ``$ref`` to it."""
    if name in COMPONENTS:
        raise ValueError(f"schema {name} is defined twice")
    COMPONENTS[name] = schema
    return ref(name)


def resolve(reference: str) -> dict[str, Any]:
    if not reference.startswith(_REF) or reference[len(_REF):] not in COMPONENTS:
        raise KeyError(f"unknown schema reference {reference}")
    return COMPONENTS[reference[len(_REF):]]


def obj(properties: dict[str, Any], required: tuple[str, ...] | None = None, description: str = "") -> dict[str, Any]:
    """A closed object; ``required=None`` means every property."""
    schema: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": properties,
                              "required": list(properties if required is None else required)}
    if description:
        schema["description"] = description
    return schema


def string(description: str = "", **keywords: Any) -> dict[str, Any]:
    return {"type": "string", **keywords, **({"description": description} if description else {})}


def boolean(description: str = "") -> dict[str, Any]:
    return {"type": "boolean", **({"description": description} if description else {})}


TIMESTAMP = {"type": "string", "format": "date-time"}
OPTIONAL_TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}
SLUG_PATTERN = "^[a-z0-9][a-z0-9-]{0,98}$"
ROLE_PATTERN = "^[a-z][a-z0-9_-]{0,49}$"
# RFC 6749 §3.3: scope-tokens of %x21 / %x23-5B / %x5D-7E, separated by single spaces.
SCOPE_PATTERN = "^[\\x21\\x23-\\x5b\\x5d-\\x7e]+( [\\x21\\x23-\\x5b\\x5d-\\x7e]+)*$"

ERROR = define("Error", {
    "type": "object", "additionalProperties": False, "required": ["error", "error_description"],
    "properties": {
        "error": string("machine-readable code: invalid_request, invalid_token, insufficient_scope, not_found, "
                        "conflict, method_not_allowed, temporarily_unavailable"),
        "error_description": string("what went wrong, for people"),
        "field": string("the request field at fault: `email`, `organizations[0].role`, `limit`, or `body` "
                        "for the body as a whole"),
    },
})

# --- accounts ----------------------------------------------------------------------------------------------
ACCOUNT_ORGANIZATION = define("AccountOrganization", obj({
    "id": string(), "slug": string(), "role": string(),
}))
ACCOUNT = define("Account", obj({
    "id": string("the account's subject identifier (`sub`)"),
    "email": string(format="email"),
    "email_verified": boolean(),
    "name": string(),
    "created_at": TIMESTAMP,
    "last_sign_in_at": OPTIONAL_TIMESTAMP,
    "disabled": boolean("a disabled account cannot sign in, and its tokens stop working"),
    "locked": boolean("temporarily locked after too many failed sign-ins"),
    "organizations": {"type": "array", "items": ACCOUNT_ORGANIZATION},
}))

EMAIL_INPUT = string("an e-mail address; stored in lower case", maxLength=320, format="email")
NAME_INPUT = string(maxLength=200)
PASSWORD_INPUT = string("never returned", minLength=MIN_PASSWORD, maxLength=1024, writeOnly=True)
ORGANIZATION_REF = string("an organization's id or slug", minLength=1, maxLength=100)
ROLE_INPUT = string("lowercase letters, digits, `_` and `-`", pattern=ROLE_PATTERN)

MEMBERSHIP_INPUT = define("MembershipInput", obj({
    "organization": ORGANIZATION_REF,
    "role": {**ROLE_INPUT, "default": "member"},
}, required=("organization",)))
ACCOUNT_CREATE = define("AccountCreate", obj({
    "email": EMAIL_INPUT,
    "name": NAME_INPUT,
    "password": {**PASSWORD_INPUT, "description": "omit for an account that signs in some other way"},
    "email_verified": {"type": "boolean", "default": False},
    "organizations": {"type": "array", "maxItems": 100, "items": MEMBERSHIP_INPUT},
}, required=("email",)))
ACCOUNT_UPDATE = define("AccountUpdate", obj({
    "email": {**EMAIL_INPUT, "description": "a new address is unverified unless email_verified is given too"},
    "name": NAME_INPUT,
    "email_verified": boolean(),
    "password": {**PASSWORD_INPUT, "description": "a new password also lifts a sign-in lockout"},
    "disabled": boolean("true ends the account's login sessions"),
}, required=()))

# --- organizations -----------------------------------------------------------------------------------------
ORGANIZATION = define("Organization", obj({
    "id": string(), "slug": string(), "name": string(), "created_at": TIMESTAMP,
    "member_count": {"type": "integer", "minimum": 0},
}))
ORGANIZATION_CREATE = define("OrganizationCreate", obj({
    "slug": string("lowercase letters, digits and dashes", pattern=SLUG_PATTERN),
    "name": string("defaults to the slug", maxLength=200),
}, required=("slug",)))
ORGANIZATION_UPDATE = define("OrganizationUpdate", obj({
    "slug": string(pattern=SLUG_PATTERN),
    "name": string("empty means the slug", maxLength=200),
}, required=()))
MEMBER = define("Member", obj({
    "account_id": string(), "email": string(format="email"), "name": string(), "role": string(),
    "disabled": boolean(), "joined_at": TIMESTAMP,
    "state": string("`invited` until the member accepts the invitation", enum=["active", "invited"]),
    "invited_at": OPTIONAL_TIMESTAMP,
}))
MEMBER_ROLE = define("MemberRole", obj({"role": {**ROLE_INPUT, "default": "member"}}, required=()))

# --- clients -----------------------------------------------------------------------------------------------
URI_LIST = {"type": "array", "items": string(format="uri")}
EVENTS_BY_EMAIL = "the events this client posts may name their account by e-mail address as well as by sub"
_CLIENT = {
    "client_id": string(),
    "name": string(),
    "redirect_uris": URI_LIST,
    "post_logout_redirect_uris": URI_LIST,
    "grant_types": {"type": "array", "items": string(enum=sorted(GRANT_TYPES))},
    "scope": string("space-separated scopes the client may ask for"),
    "token_endpoint_auth_method": string(enum=["client_secret_basic", "none"]),
    "public": boolean("public clients (native apps, SPAs) have no secret"),
    "first_party": boolean("first-party clients skip consent and may post events for any account"),
    "admin": boolean("admin clients may call this API with their client_credentials tokens"),
    "access_token_format": string(enum=list(ACCESS_TOKEN_FORMATS)),
    "resource_server": boolean("resource servers may introspect tokens issued to other clients"),
    "disabled": boolean("a disabled client cannot authenticate or sign users in, and its tokens are inactive"),
    "organization_id": {"type": ["string", "null"]},
    "logo_uri": {"type": ["string", "null"], "description": "shown on the login page"},
    "initiate_login_uri": {"type": ["string", "null"], "description": "where an accepted invitation naming the "
                           "client sends people (OpenID Connect Core §4)"},
    "created_at": OPTIONAL_TIMESTAMP,
    "events_by_email": boolean(EVENTS_BY_EMAIL),
}
CLIENT = define("Client", obj(_CLIENT))
SECRET = string("shown only in this response; only its digest is kept")
CLIENT_CREATED = define("ClientCreated", obj({
    **_CLIENT, "client_secret": {**SECRET, "type": ["string", "null"]},
}, description="a new client, with its secret (null for public clients)"))
CLIENT_SECRET = define("ClientSecret", obj({"client_id": string(), "client_secret": SECRET}))

URI_INPUT = {"type": "array", "maxItems": 50, "items": string(minLength=1, maxLength=2000, format="uri")}
GRANT_TYPES_INPUT = {"type": "array", "minItems": 1, "uniqueItems": True,
                     "items": string(enum=sorted(GRANT_TYPES))}
SCOPE_INPUT = string("space-separated scope tokens", maxLength=1000, pattern=SCOPE_PATTERN)
CLIENT_NAME_INPUT = string(minLength=1, maxLength=200)
WEB_URI_INPUT = string("an https URL (http only for localhost); empty removes it", maxLength=2000)
ACCESS_TOKEN_FORMAT_INPUT = string("`jwt`: RFC 9068 tokens resource servers verify with the JWKS; `opaque`: "
                                   "encrypted tokens resource servers introspect", enum=list(ACCESS_TOKEN_FORMATS),
                                   default="jwt")
CLIENT_CREATE = define("ClientCreate", obj({
    "name": CLIENT_NAME_INPUT,
    "redirect_uris": URI_INPUT,
    "post_logout_redirect_uris": URI_INPUT,
    "grant_types": {**GRANT_TYPES_INPUT, "description": "default: client_credentials for admin clients, "
                    "else authorization_code and refresh_token"},
    "scope": {**SCOPE_INPUT, "description": "default: `admin` for admin client_credentials clients, else "
              "`openid profile email offline_access`; admin clients always get `admin`"},
    "public": {"type": "boolean", "default": False},
    "first_party": {"type": "boolean", "default": False},
    "admin": {"type": "boolean", "default": False},
    "organization": {**ORGANIZATION_REF, "description": "the organization (id or slug) the client belongs to"},
    "id_token_signed_response_alg": string(enum=["RS256", "ES256"], default="RS256"),
    "access_token_format": ACCESS_TOKEN_FORMAT_INPUT,
    "resource_server": {"type": "boolean", "default": False,
                        "description": "may introspect tokens issued to other clients"},
    "logo_uri": WEB_URI_INPUT,
    "initiate_login_uri": WEB_URI_INPUT,
    "events_by_email": {"type": "boolean", "default": False, "description": EVENTS_BY_EMAIL},
}, required=("name",)))
CLIENT_UPDATE = define("ClientUpdate", obj({
    "name": CLIENT_NAME_INPUT,
    "redirect_uris": URI_INPUT,
    "post_logout_redirect_uris": URI_INPUT,
    "grant_types": GRANT_TYPES_INPUT,
    "scope": SCOPE_INPUT,
    "first_party": boolean(),
    "admin": boolean("true adds the `admin` scope, false removes it"),
    "access_token_format": ACCESS_TOKEN_FORMAT_INPUT,
    "resource_server": boolean("may introspect tokens issued to other clients"),
    "disabled": boolean("true stops the client: it cannot authenticate, and its tokens become inactive"),
    "logo_uri": WEB_URI_INPUT,
    "initiate_login_uri": WEB_URI_INPUT,
    "events_by_email": boolean(EVENTS_BY_EMAIL),
}, required=()))
