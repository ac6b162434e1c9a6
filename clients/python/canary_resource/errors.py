"""Bearer-token errors as RFC 6750 §3 defines them, each carrying its error code and HTTP status."""

from __future__ import annotations


class CanaryError(Exception):
    """Anything this kit raises."""


class ConfigurationError(CanaryError):
    """The issuer's metadata or keys cannot be had, or the kit was set up wrongly."""


class BearerError(CanaryError):
    """A request refused for its token: RFC 6750 §3.1's error codes with their status."""

    error = "invalid_request"
    status = 400

    def __init__(self, description: str, scope: str | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.scope = scope

    def www_authenticate(self, realm: str | None = None) -> str:
        """The ``WWW-Authenticate`` header value (RFC 6750 §3)."""
        return challenge(realm, self.error, self.description, self.scope)


class TokenMissing(BearerError):
    """No token at all: RFC 6750 §3.1 says the answer then carries no error code."""

    error = ""
    status = 401

    def www_authenticate(self, realm: str | None = None) -> str:
        return challenge(realm, None, None, self.scope)


class InvalidToken(BearerError):
    """Malformed, expired, revoked, foreign or badly signed."""

    error = "invalid_token"
    status = 401


class InsufficientScope(BearerError):
    """A valid token without the scope the route needs."""

    error = "insufficient_scope"
    status = 403


class Unavailable(CanaryError):
    """Canary could not be reached to check a token (discovery, JWKS or introspection): a 503, not a 401."""


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def challenge(realm: str | None, error: str | None, description: str | None, scope: str | None) -> str:
    parts = []
    if realm:
        parts.append(f"realm={_quoted(realm)}")
    if error:
        parts.append(f"error={_quoted(error)}")
        if description:
            # RFC 6750 §3: error_description is limited to printable ASCII without " and \.
            text = "".join(c for c in description if 0x20 <= ord(c) <= 0x7E and c not in '"\\')
            parts.append(f"error_description={_quoted(text)}")
    if scope:
        parts.append(f"scope={_quoted(scope)}")
    return "Bearer " + ", ".join(parts) if parts else "Bearer"
