"""Protocol errors raised by the oauth layer. ``idp.web`` turns them into HTTP responses."""

from __future__ import annotations


class OAuthError(Exception):
    error = "invalid_request"
    status = 400

    def __init__(self, description: str = "") -> None:
        super().__init__(description)
        self.description = description


class InvalidRequest(OAuthError):
    error = "invalid_request"


class InvalidScope(OAuthError):
    error = "invalid_scope"


class UnauthorizedClient(OAuthError):
    error = "unauthorized_client"


class UnsupportedResponseType(OAuthError):
    error = "unsupported_response_type"


class LoginRequired(OAuthError):
    error = "login_required"


class ConsentRequired(OAuthError):
    error = "consent_required"


class AccessDenied(OAuthError):
    error = "access_denied"


class InvalidClient(OAuthError):
    error = "invalid_client"
    status = 401


class InvalidTokenError(OAuthError):
    error = "invalid_token"
    status = 401


class InsufficientScope(OAuthError):
    error = "insufficient_scope"
    status = 403


class ClientRegistrationError(OAuthError):
    error = "invalid_client_metadata"


class Forbidden(OAuthError):
    """The token is usable but may not do this (for instance, post events about another organization's
    accounts)."""

    error = "forbidden"
    status = 403
