"""The one place Canary touches Authlib's private internals; ``problems()`` says whether an installed Authlib
still has what is relied on here (tests/unit/test_authlib_compat.py runs it).

- ``validate_client``: Authlib's ``_validate_client``, so that Canary's ``client_secret_basic`` (which decodes
  the credentials per RFC 6749 §2.3.1) refuses an unknown client with Authlib's own ``invalid_client`` error.
- ``BareOAuth2Request``: ``OAuth2Request`` without its constructor, which refuses plain-http URIs outside
  Authlib's error handling (a 500); transport security is Canary's settings' job. It sets the attributes the
  constructor sets, private ones (``_body``, ``_scope``, read by ``OAuth2Request.scope`` and ``form``)
  included.
"""

from __future__ import annotations

import inspect
from typing import Any

import authlib
from authlib.oauth2.rfc6749 import InvalidClientError, OAuth2Request
from authlib.oauth2.rfc6749 import authenticate_client as _authenticate_client
from authlib.oauth2.rfc6749.requests import OAuth2Payload

VERSION: str = authlib.__version__


def validate_client(query_client: Any, client_id: str, status_code: int) -> Any:
    """The client ``query_client`` finds for ``client_id``, or InvalidClientError with ``status_code``."""
    return _authenticate_client._validate_client(query_client, client_id, status_code)


class BareOAuth2Request(OAuth2Request):  # type: ignore[misc]
    def __init__(self, method: str, uri: str, headers: dict[str, str], payload: OAuth2Payload) -> None:
        # What OAuth2Request.__init__ sets, but for its InsecureTransportError check.
        self.method = method
        self.uri = uri
        self.headers = headers
        self._body = None
        self.payload = payload
        self.client = None
        self.auth_method = None
        self.user = None
        self.authorization_code = None
        self.refresh_token = None
        self.credential = None
        self._scope = None


def problems() -> list[str]:
    """What this module relies on and the installed Authlib no longer does (empty when all holds)."""
    found: list[str] = []
    validate = getattr(_authenticate_client, "_validate_client", None)
    if validate is None:
        return ["authlib.oauth2.rfc6749.authenticate_client._validate_client is gone"]
    params = list(inspect.signature(validate).parameters)
    if params[:3] != ["query_client", "client_id", "status_code"]:
        found.append(f"_validate_client takes {params}, not (query_client, client_id, status_code)")
    else:
        marker = object()
        if validate(lambda client_id: marker if client_id == "known" else None, "known", 401) is not marker:
            found.append("_validate_client does not return the client query_client finds")
        try:
            validate(lambda client_id: None, "unknown", 401)
            found.append("_validate_client accepts a client that query_client does not find")
        except InvalidClientError as error:
            if error.status_code != 401:
                found.append(f"_validate_client answers an unknown client with {error.status_code}, not 401")

    class Payload(OAuth2Payload):  # type: ignore[misc]
        data = {"scope": "openid"}

    real = OAuth2Request("POST", "https://canary.example/token", headers={})
    real.payload = Payload()
    bare = BareOAuth2Request("POST", "http://127.0.0.1/token", {}, Payload())
    if set(vars(real)) != set(vars(bare)):
        found.append(f"OAuth2Request.__init__ sets {sorted(vars(real))}, BareOAuth2Request sets {sorted(vars(bare))}")
    for request in (real, bare):
        if request.scope != "openid":
            found.append("OAuth2Request.scope does not fall back to the payload's scope")
        request.scope = "email"
        if request.scope != "email" or getattr(request, "_scope", None) != "email":
            found.append("OAuth2Request.scope is no longer kept in _scope")
    return found
