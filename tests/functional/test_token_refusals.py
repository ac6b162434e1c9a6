"""/token says what was wrong: a scope the client is not registered for is `invalid_scope` (not a token with an
empty scope), and a wrong secret is `invalid_client` saying the credentials are invalid."""

from __future__ import annotations

import httpx

from tests.functional.conftest import Provider


def test_an_unregistered_scope_is_invalid_scope(provider: Provider, http: httpx.Client) -> None:
    client_id, secret = provider.client(grant_types=["client_credentials"], scope="events:write", redirect_uris=[])
    assert secret is not None
    for scope in ("admin", "events:write admin", "nonsense"):
        refused = http.post("/token", data={"grant_type": "client_credentials", "scope": scope},
                            auth=(client_id, secret))
        assert refused.status_code == 400, refused.text
        body = refused.json()
        assert body["error"] == "invalid_scope"
        assert scope.split()[-1] in body["error_description"]
    granted = http.post("/token", data={"grant_type": "client_credentials", "scope": "events:write"},
                        auth=(client_id, secret))
    assert granted.status_code == 200 and granted.json()["scope"] == "events:write"
    default = http.post("/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
    assert default.status_code == 200 and default.json()["scope"] == "events:write"


def test_a_wrong_secret_says_the_client_credentials_are_invalid(provider: Provider, http: httpx.Client) -> None:
    client_id, _secret = provider.client(grant_types=["client_credentials"], scope="events:write", redirect_uris=[])
    for auth in ({"auth": (client_id, "wrong")},
                 {"data": {"client_id": client_id, "client_secret": "wrong"}},
                 {"auth": ("no-such-client", "wrong")}):
        data = {"grant_type": "client_credentials", **auth.pop("data", {})}  # type: ignore[dict-item]
        refused = http.post("/token", data=data, **auth)  # type: ignore[arg-type]
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"] == "invalid_client"
        assert "client credentials are invalid" in refused.json()["error_description"]
        assert "WWW-Authenticate" in refused.headers


def test_the_challenge_says_what_the_body_says(provider: Provider, http: httpx.Client) -> None:
    client_id, _secret = provider.client(grant_types=["client_credentials"], scope="events:write", redirect_uris=[])
    for path in ("/token", "/introspect", "/revoke"):
        refused = http.post(path, data={"grant_type": "client_credentials", "token": "t"}, auth=(client_id, "wrong"))
        assert refused.status_code == 401, refused.text
        description = refused.json()["error_description"]
        challenge = refused.headers["WWW-Authenticate"]
        assert challenge.startswith("Basic ") and 'error="invalid_client"' in challenge
        assert f'error_description="{description}"' in challenge
        assert "cannot authenticate" not in challenge
