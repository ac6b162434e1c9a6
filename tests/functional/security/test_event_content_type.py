"""POST /v1/events takes JSON only: a form or text/plain body (what a page can send across sites) gets 415."""

from __future__ import annotations

import httpx

from tests.functional.conftest import Provider


def _token(prov: Provider) -> tuple[str, str]:
    user = prov.user()
    client_id, secret = prov.client(grant_types=["client_credentials"], scope="events:write", first_party=True,
                                    redirect_uris=[])
    token = httpx.post(f"{prov.url}/token", data={"grant_type": "client_credentials"},
                       auth=(client_id, secret or "")).json()["access_token"]
    return str(token), user.id


def test_only_application_json_is_accepted(ingest: Provider) -> None:
    token, account = _token(ingest)
    body = f'{{"account": "{account}", "name": "report.exported"}}'.encode()
    auth = {"Authorization": f"Bearer {token}"}
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x",
                         None, "application/jsonx"):
        headers = auth if content_type is None else {**auth, "Content-Type": content_type}
        response = httpx.post(f"{ingest.url}/v1/events", content=body, headers=headers)
        assert response.status_code == 415, (content_type, response.text)
        assert response.json()["error"] == "unsupported_media_type"
        assert "application/json" in response.json()["error_description"]
    for content_type in ("application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8"):
        response = httpx.post(f"{ingest.url}/v1/events", content=body, headers={**auth, "Content-Type": content_type})
        assert response.status_code == 202, (content_type, response.text)


def test_a_bad_token_is_still_answered_first(ingest: Provider) -> None:
    response = httpx.post(f"{ingest.url}/v1/events", content=b"a=b",
                          headers={"Authorization": "Bearer nonsense", "Content-Type": "text/plain"})
    assert response.status_code == 401
