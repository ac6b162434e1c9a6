"""The provider's own events about second factors, stored in ClickHouse (server and chDB): ``mfa.enrolled``,
``mfa.removed`` (by the user and by an operator), and ``signin.failed`` with reason ``bad_second_factor``."""

from __future__ import annotations

import json

import httpx

from analytics.api import Analytics, provider_events
from tests.functional.conftest import Provider
from tests.support.browser import authorize_params, login, sign_in
from tests.support.factors import enroll_totp, post_form, second_factor


def stored(prov: Provider, where: str) -> list[dict]:
    analytics: Analytics = prov.extra["analytics"]
    analytics.flush(20)
    rows = analytics.clickhouse.execute(
        "SELECT account, name, properties, client_id FROM events FINAL "
        f"WHERE source = 'idp' AND {where} ORDER BY timestamp")
    return rows.dicts()


def test_enrollment_removal_and_wrong_codes_are_recorded(ingest: Provider) -> None:
    user = ingest.user()
    client_id, _ = ingest.client(first_party=True)
    with httpx.Client(base_url=ingest.url, timeout=30) as http:
        sign_in(http, authorize_params(client_id), user.email)
        enroll_totp(http, ingest.clock)
    with httpx.Client(base_url=ingest.url, timeout=30) as fresh:
        after = login(fresh, fresh.get("/authorize", params=authorize_params(client_id)), user.email)
        wrong = second_factor(fresh, after, "totp", "000000")
        post_form(fresh, "/login/second-factor", wrong, method="recovery", code="aaaa-bbbb-cccc-dddd")
    with httpx.Client(base_url=ingest.url, timeout=30) as http:
        page = http.get("/authorize", params=authorize_params(client_id))
        back = second_factor(http, login(http, page, user.email), "recovery", "not-a-code")
        assert back.status_code == 200
    admin_id, admin_secret = ingest.client(grant_types=["client_credentials"], admin=True, scope="admin")
    token = httpx.post(f"{ingest.url}/token", data={"grant_type": "client_credentials", "scope": "admin"},
                       auth=(admin_id, admin_secret or "")).json()["access_token"]
    reset = httpx.post(f"{ingest.url}/admin/api/v1/accounts/{user.id}/factors/reset",
                       headers={"Authorization": f"Bearer {token}"})
    assert reset.status_code == 200

    rows = stored(ingest, f"account = '{user.id}'")
    enrolled = [json.loads(r["properties"]) for r in rows if r["name"] == provider_events.MFA_ENROLLED]
    assert enrolled == [{"factor": "totp"}]
    removed = [json.loads(r["properties"]) for r in rows if r["name"] == provider_events.MFA_REMOVED]
    assert removed == [{"factor": "all", "by": "operator"}]
    failures = [r for r in rows if r["name"] == provider_events.SIGNIN_FAILED]
    assert [json.loads(r["properties"])["reason"] for r in failures] == ["bad_second_factor"] * 3
    assert {r["client_id"] for r in failures} == {client_id}
    assert provider_events.SIGNIN_SUCCEEDED in {r["name"] for r in rows}


def test_removing_the_app_from_the_security_page_is_recorded(ingest: Provider) -> None:
    user = ingest.user()
    client_id, _ = ingest.client(first_party=True)
    with httpx.Client(base_url=ingest.url, timeout=30) as http:
        sign_in(http, authorize_params(client_id), user.email)
        enroll_totp(http, ingest.clock)
        post_form(http, "/account/security/totp-remove", http.get("/account/security"))
    removed = [json.loads(r["properties"]) for r in stored(ingest, f"account = '{user.id}'")
               if r["name"] == provider_events.MFA_REMOVED]
    assert removed == [{"factor": "totp", "by": "user"}]
