"""Canary's resource-server kit: verify Canary's access tokens and record who uses an API.

- ``CanaryMiddleware`` (ASGI: Starlette, FastAPI) and ``CanaryWSGI`` (WSGI); ``canary_resource.flask.protect``.
- ``requires("scope")`` on a route; ``current_claims()`` inside one.
- ``TokenVerifier`` on its own; ``EventClient.track(account, name, properties)`` from any code.
"""

from canary_resource.asgi import CanaryMiddleware, claims_of
from canary_resource.claims import AccessClaims
from canary_resource.errors import (
    BearerError,
    CanaryError,
    ConfigurationError,
    InsufficientScope,
    InvalidToken,
    TokenMissing,
    Unavailable,
)
from canary_resource.events import EventClient, Stats
from canary_resource.guard import Guard, current_claims, requires
from canary_resource.naming import event_name
from canary_resource.verifier import TokenVerifier
from canary_resource.wsgi import CanaryWSGI

__all__ = [
    "AccessClaims", "BearerError", "CanaryError", "CanaryMiddleware", "CanaryWSGI", "ConfigurationError",
    "EventClient", "Guard", "InsufficientScope", "InvalidToken", "Stats", "TokenMissing", "TokenVerifier",
    "Unavailable", "claims_of", "current_claims", "event_name", "requires",
]
