"""What idp.oauth.authlib_compat relies on in Authlib's internals still holds for the installed Authlib."""

from __future__ import annotations

from typing import Any

import pytest
from authlib.oauth2.rfc6749 import OAuth2Request, authenticate_client

from idp.oauth import authlib_compat


def test_installed_authlib_has_what_the_adapter_relies_on() -> None:
    problems = authlib_compat.problems()
    assert not problems, (
        f"Authlib {authlib_compat.VERSION} is not compatible with idp/oauth/authlib_compat.py: "
        + "; ".join(problems))


def test_the_check_sees_a_missing_private_function(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(authenticate_client, "_validate_client")
    assert authlib_compat.problems() == ["authlib.oauth2.rfc6749.authenticate_client._validate_client is gone"]


def test_the_check_sees_a_changed_signature_or_behaviour(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(authenticate_client, "_validate_client", lambda query_client, client_id: None)
    assert "takes ['query_client', 'client_id']" in " ".join(authlib_compat.problems())

    def lenient(query_client: Any, client_id: str, status_code: int = 400) -> Any:
        return query_client(client_id) or object()

    monkeypatch.setattr(authenticate_client, "_validate_client", lenient)
    assert authlib_compat.problems() == ["_validate_client accepts a client that query_client does not find"]


def test_the_check_sees_a_request_constructor_that_sets_more(monkeypatch: pytest.MonkeyPatch) -> None:
    constructor = OAuth2Request.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        constructor(self, *args, **kwargs)
        self._resource = None

    monkeypatch.setattr(OAuth2Request, "__init__", init)
    assert "_resource" in " ".join(authlib_compat.problems())
