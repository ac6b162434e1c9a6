"""POST /v1/events and the provider's own events, end to end: HTTP → spool → ClickHouse (server and chDB)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest

from analytics.api import Analytics, provider_events
from idp.accounts.models import User
from idp.db import transaction
from tests.functional.conftest import Provider, start_provider
from tests.support.accounts import org_id
from tests.support.browser import PASSWORD, authorize_params, login, sign_in
from tests.support.tokens import exchange

JSON = "application/json"


def stored(prov: Provider, where: str) -> list[dict]:
    analytics: Analytics = prov.extra["analytics"]
    analytics.flush(20)
    rows = analytics.clickhouse.execute(
        "SELECT toString(event_id) AS id, account, organization, client_id, name, source, properties, "
        f"toUnixTimestamp(timestamp) AS ts FROM events FINAL WHERE {where} ORDER BY timestamp, id")
    return rows.dicts()


def cc_token(prov: Provider, **client: object) -> tuple[str, str]:
    client.setdefault("grant_types", ["client_credentials"])
    client.setdefault("scope", "events:write")
    client_id, secret = prov.client(**client)
    body = httpx.post(f"{prov.url}/token", data={"grant_type": "client_credentials"},
                      auth=(client_id, secret or "")).json()
    return client_id, body["access_token"]


def post(prov: Provider, token: str, body: object, **headers: str) -> httpx.Response:
    return httpx.post(f"{prov.url}/v1/events", content=json.dumps(body).encode(),
                      headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json", **headers},
                      timeout=30)


def test_org_client_posts_single_event_and_batch_stored_once(ingest: Provider) -> None:
    slug = f"acme-{uuid.uuid4().hex[:6]}"
    user = ingest.user(organization=slug)
    client_id, token = cc_token(ingest, organization_id=org_id(ingest, slug))
    one = post(ingest, token, {"account": user.id, "name": "search", "properties": {"q": "boots"}})
    assert one.status_code == 202 and one.json() == {"accepted": 1}
    ids = [str(uuid.uuid4()) for _ in range(3)]
    batch = {"batch": [{"event_id": i, "account": user.id, "name": "report.exported"} for i in ids]}
    assert post(ingest, token, batch).json() == {"accepted": 3}
    assert post(ingest, token, batch).status_code == 202  # a retry
    rows = stored(ingest, f"account = '{user.id}' AND source = 'api'")
    assert sorted(r["name"] for r in rows) == ["report.exported"] * 3 + ["search"]
    assert {r["id"] for r in rows if r["name"] == "report.exported"} == set(ids)
    assert all(r["organization"] == org_id(ingest, slug) and r["client_id"] == client_id for r in rows)
    assert json.loads(next(r for r in rows if r["name"] == "search")["properties"]) == {"q": "boots"}


def test_org_client_cannot_post_for_other_organizations(ingest: Provider) -> None:
    mine, theirs = f"m-{uuid.uuid4().hex[:6]}", f"t-{uuid.uuid4().hex[:6]}"
    ingest.user(organization=mine)
    stranger = ingest.user(organization=theirs)
    _, token = cc_token(ingest, organization_id=org_id(ingest, mine))
    response = post(ingest, token, {"account": stranger.id, "name": "search"})
    assert response.status_code == 403 and response.json()["error"] == "forbidden"
    assert stored(ingest, f"account = '{stranger.id}' AND source = 'api'") == []


def test_first_party_client_may_post_for_anyone(ingest: Provider) -> None:
    user = ingest.user(organization=f"fp-{uuid.uuid4().hex[:6]}")
    _, token = cc_token(ingest, first_party=True)
    assert post(ingest, token, {"account": user.id, "name": "search"}).status_code == 202


def test_user_token_defaults_to_that_user_and_cannot_name_another(ingest: Provider) -> None:
    user, other = ingest.user(), ingest.user()
    client_id, secret = ingest.client(first_party=True, scope="openid events:write")
    with httpx.Client(base_url=ingest.url) as browser:
        back = sign_in(browser, authorize_params(client_id, scope="openid events:write"), user.email)
    token = exchange(ingest, client_id, secret, back["code"]).json()["access_token"]
    assert post(ingest, token, {"name": "dashboard.viewed"}).status_code == 202
    assert post(ingest, token, {"name": "x", "account": other.id}).status_code == 403
    rows = stored(ingest, f"account = '{user.id}' AND source = 'api'")
    assert [r["name"] for r in rows] == ["dashboard.viewed"]


def test_token_problems(ingest: Provider) -> None:
    _, wrong_scope = cc_token(ingest, scope="admin")
    response = post(ingest, wrong_scope, {"account": "a", "name": "x"})
    assert response.status_code == 403 and 'error="insufficient_scope"' in response.headers["www-authenticate"]
    for token in ("garbage", "a.b.c"):
        response = post(ingest, token, {"account": "a", "name": "x"})
        assert response.status_code == 401 and "invalid_token" in response.headers["www-authenticate"]
    response = httpx.post(f"{ingest.url}/v1/events", json={"name": "x"})
    assert response.status_code == 401 and response.headers["www-authenticate"].startswith("Bearer")
    client_id, secret = ingest.client(grant_types=["client_credentials"], scope="events:write", first_party=True)
    token = httpx.post(f"{ingest.url}/token", data={"grant_type": "client_credentials"},
                       auth=(client_id, secret or "")).json()["access_token"]
    httpx.post(f"{ingest.url}/revoke", data={"token": token}, auth=(client_id, secret or ""))
    assert post(ingest, token, {"account": "a", "name": "x"}).status_code == 401


def test_answers_keep_their_order_token_then_body_then_refusal(ingest: Provider) -> None:
    huge = b'{"name": "' + b"x" * (1024 * 1024) + b'"}'

    def post_huge(token: str) -> httpx.Response:
        return httpx.post(f"{ingest.url}/v1/events", content=huge, headers={"Authorization": f"Bearer {token}",
                                                                           "Content-Type": "application/json"})

    user = ingest.user()
    client_id, secret = ingest.client(grant_types=["client_credentials"], scope="events:write", first_party=True)
    auth = (client_id, secret or "")
    revoked = httpx.post(f"{ingest.url}/token", data={"grant_type": "client_credentials"}, auth=auth).json()[
        "access_token"]
    httpx.post(f"{ingest.url}/revoke", data={"token": revoked}, auth=auth)
    for response in (post_huge(revoked), post(ingest, revoked, {"batch": "not a list"})):
        assert response.status_code == 401, response.text
        assert response.json()["error_description"] == "the access token is invalid: token revoked"

    # A client deleted since its token was issued: a refusal, answered after the body's problems.
    gone_id, gone = cc_token(ingest, first_party=True)
    with transaction(ingest.context.factory) as db:
        from idp.oauth.clients import delete_client
        from idp.oauth.models import Client

        client = db.get(Client, gone_id)
        assert client is not None
        delete_client(db, client)
    assert post_huge(gone).status_code == 413
    assert post(ingest, gone, {"batch": "not a list"}).status_code == 400
    response = post(ingest, gone, {"account": user.id, "name": "x"})
    assert response.status_code == 403
    assert response.json() == {"error": "forbidden", "error_description": "the token's client no longer exists"}


def test_opaque_access_tokens_post_events_until_revoked(ingest: Provider) -> None:
    user = ingest.user()
    client_id, secret = ingest.client(grant_types=["client_credentials"], scope="events:write", first_party=True,
                                      access_token_format="opaque")
    auth = (client_id, secret or "")
    token = httpx.post(f"{ingest.url}/token", data={"grant_type": "client_credentials"}, auth=auth).json()[
        "access_token"]
    assert token.startswith("cat1~")
    assert post(ingest, token, {"account": user.id, "name": "opaque.posted"}).json() == {"accepted": 1}
    rows = stored(ingest, f"account = '{user.id}' AND source = 'api'")
    assert [(r["name"], r["client_id"]) for r in rows] == [("opaque.posted", client_id)]
    altered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    response = post(ingest, altered, {"account": user.id, "name": "x"})
    assert response.status_code == 401 and "invalid_token" in response.headers["www-authenticate"]
    httpx.post(f"{ingest.url}/revoke", data={"token": token}, auth=auth)
    response = post(ingest, token, {"account": user.id, "name": "x"})
    assert response.status_code == 401 and "revoked" in response.json()["error_description"]


def test_bad_batch_is_rejected_whole_naming_index_and_field(ingest: Provider) -> None:
    user = ingest.user()
    _, token = cc_token(ingest, first_party=True)
    good = str(uuid.uuid4())
    response = post(ingest, token, {"batch": [
        {"event_id": good, "account": user.id, "name": "ok"},
        {"account": user.id},
        {"account": user.id, "name": "x", "timestamp": "yesterday-ish"},
        {"account": user.id, "name": "x", "properties": [1, 2]},
    ]})
    assert response.status_code == 400
    errors = {(e["index"], e["field"]) for e in response.json()["errors"]}
    assert {(1, "name"), (2, "timestamp"), (3, "properties")} <= errors
    assert stored(ingest, f"toString(event_id) = '{good}'") == []
    assert post(ingest, token, "not an object").status_code == 400
    assert httpx.post(f"{ingest.url}/v1/events", content=b"{not json",
                      headers={"Authorization": f"Bearer {token}", "Content-Type": JSON}).status_code == 400
    too_many = {"batch": [{"account": user.id, "name": "x"}] * 1001}
    assert post(ingest, token, too_many).status_code == 400
    huge = httpx.post(f"{ingest.url}/v1/events", content=b'{"name": "' + b"x" * (1024 * 1024) + b'"}',
                      headers={"Authorization": f"Bearer {token}", "Content-Type": JSON})
    assert huge.status_code == 413


def test_sign_ins_tokens_and_signout_are_recorded_automatically(ingest: Provider, tmp_path: Path) -> None:
    user = ingest.user(organization=f"auto-{uuid.uuid4().hex[:6]}")
    client_id, secret = ingest.client(first_party=True)
    with httpx.Client(base_url=ingest.url) as browser:
        page = browser.get("/authorize", params=authorize_params(client_id))
        login(browser, page, user.email, "wrong password")
        page = browser.get("/authorize", params=authorize_params(client_id))
        login(browser, page, f"nobody-{uuid.uuid4().hex[:6]}@example.com", PASSWORD)
        back = sign_in(browser, authorize_params(client_id), user.email, PASSWORD)
        body = exchange(ingest, client_id, secret, back["code"]).json()
        httpx.post(f"{ingest.url}/token", data={"grant_type": "refresh_token",
                                                "refresh_token": body["refresh_token"]},
                   auth=(client_id, secret or ""))
        browser.get("/logout", params={"id_token_hint": body["id_token"]})
    names = [(r["name"], json.loads(r["properties"]).get("reason")) for r in
             stored(ingest, f"account = '{user.id}' AND source = 'idp'")]
    assert (provider_events.SIGNIN_FAILED, "bad_password") in names
    for name in (provider_events.SIGNIN_SUCCEEDED, provider_events.TOKEN_ISSUED, provider_events.TOKEN_REFRESHED,
                 provider_events.SIGNOUT):
        assert name in {n for n, _ in names}, names
    unknown = stored(ingest, f"name = '{provider_events.SIGNIN_FAILED}' AND account = '' AND client_id = '{client_id}'")
    assert [json.loads(r["properties"])["reason"] for r in unknown] == ["unknown_user"]
    with ingest.context.factory() as db:
        assert db.get(User, user.id).last_sign_in_at is not None  # type: ignore[union-attr]


def test_client_credentials_issuance_is_recorded(ingest: Provider) -> None:
    client_id, _ = cc_token(ingest, first_party=True)
    rows = stored(ingest, f"client_id = '{client_id}' AND name = '{provider_events.TOKEN_ISSUED}'")
    assert len(rows) == 1 and rows[0]["account"] == ""
    assert json.loads(rows[0]["properties"])["grant_type"] == "client_credentials"


def test_while_clickhouse_is_away_events_spool_then_503_with_retry_after(
        database_url: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    tmp = tmp_path_factory.mktemp("away")
    analytics = Analytics.open(url="clickhouse+native://default@127.0.0.1:1/nowhere", data_dir=tmp,
                               spool_max_bytes=64 * 1024, flush_interval=0.05)
    prov, server = start_provider(tmp, database_url, analytics)
    try:
        user = prov.user()
        _, token = cc_token(prov, first_party=True)
        batch = {"batch": [{"account": user.id, "name": "x", "properties": {"pad": "p" * 200}}] * 50}
        statuses = [post(prov, token, batch) for _ in range(12)]
        codes = [r.status_code for r in statuses]
        assert codes[0] == 202 and codes[-1] == 503, codes
        assert codes == sorted(codes), codes  # once full, it stays full while ClickHouse is away
        full = statuses[-1]
        assert full.json()["error"] == "temporarily_unavailable" and int(full.headers["Retry-After"]) >= 1
        accepted = sum(r.json()["accepted"] for r in statuses if r.status_code == 202)
        assert analytics.spool.pending_rows >= accepted  # every 202 is in the spool (plus the token.issued event)
        assert analytics.writer.failures > 0
    finally:
        server.stop()


def test_a_change_to_tokens_members_or_accounts_holds_from_the_next_post(ingest: Provider) -> None:
    """Answers of the look-up that a post repeats are reused until the accounts database changes: each change
    below is seen by the post right after it."""
    from idp.accounts.service import add_member, disable_user, find_organization, get_user, remove_member

    slug = f"chg-{uuid.uuid4().hex[:6]}"
    user = ingest.user(organization=slug)
    organization = org_id(ingest, slug)
    client_id, secret = ingest.client(grant_types=["client_credentials"], scope="events:write",
                                      organization_id=organization)
    token = httpx.post(f"{ingest.url}/token", data={"grant_type": "client_credentials"},
                       auth=(client_id, secret or "")).json()["access_token"]
    event = {"account": user.id, "name": "search"}
    for _ in range(3):
        assert post(ingest, token, event).status_code == 202
    with transaction(ingest.context.factory) as db:
        assert remove_member(db, user.id, organization)
    response = post(ingest, token, event)
    assert response.status_code == 403 and user.id in response.json()["error_description"]
    with transaction(ingest.context.factory) as db:
        org = find_organization(db, organization)
        assert org is not None
        add_member(db, get_user(db, user.id), org)
    assert post(ingest, token, event).status_code == 202
    assert httpx.post(f"{ingest.url}/revoke", data={"token": token}, auth=(client_id, secret or "")).is_success
    assert post(ingest, token, event).status_code == 401

    # A user's token stops working the moment its user is disabled.
    client, client_secret = ingest.client(first_party=True, scope="openid events:write")
    with httpx.Client(base_url=ingest.url) as browser:
        back = sign_in(browser, authorize_params(client, scope="openid events:write"), user.email)
    user_token = exchange(ingest, client, client_secret, back["code"]).json()["access_token"]
    for _ in range(2):
        assert post(ingest, user_token, {"name": "dashboard.viewed"}).status_code == 202
    with transaction(ingest.context.factory) as db:
        disable_user(db, get_user(db, user.id))
    assert post(ingest, user_token, {"name": "dashboard.viewed"}).status_code == 401


def test_a_pending_invitation_does_not_change_the_organization_of_a_users_token_events(ingest: Provider) -> None:
    from idp.accounts import invitations
    from idp.accounts.service import find_organization

    home, inviting = f"home-{uuid.uuid4().hex[:6]}", f"inviting-{uuid.uuid4().hex[:6]}"
    user = ingest.user(organization=home)
    ingest.user(organization=inviting)
    with transaction(ingest.context.factory) as db:
        org = find_organization(db, inviting)
        assert org is not None
        invitations.invite(ingest.context.accounts, db, email=user.email, organization=org)
    client_id, secret = ingest.client(first_party=True)  # a client of no organization
    with httpx.Client(base_url=ingest.url) as browser:
        back = sign_in(browser, authorize_params(client_id), user.email, PASSWORD)
    body = exchange(ingest, client_id, secret, back["code"]).json()
    refreshed = httpx.post(f"{ingest.url}/token", data={"grant_type": "refresh_token",
                                                        "refresh_token": body["refresh_token"]},
                           auth=(client_id, secret or ""))
    assert refreshed.status_code == 200
    rows = stored(ingest, f"account = '{user.id}' AND name IN ('{provider_events.TOKEN_ISSUED}', "
                          f"'{provider_events.TOKEN_REFRESHED}')")
    assert sorted(r["name"] for r in rows) == [provider_events.TOKEN_ISSUED, provider_events.TOKEN_REFRESHED]
    assert {r["organization"] for r in rows} == {org_id(ingest, home)}


def test_events_named_like_the_providers_own_are_refused(ingest: Provider) -> None:
    user = ingest.user()
    _, token = cc_token(ingest, first_party=True)
    good = str(uuid.uuid4())
    for body, index in (({"account": user.id, "name": provider_events.SIGNIN_SUCCEEDED}, 0),
                        ({"batch": [{"event_id": good, "account": user.id, "name": "report.viewed"},
                                    {"account": user.id, "name": provider_events.TOKEN_ISSUED}]}, 1)):
        response = post(ingest, token, body)
        assert response.status_code == 400, response.text
        [error] = response.json()["errors"]
        assert (error["index"], error["field"]) == (index, "name") and "provider records itself" in error["message"]
    assert stored(ingest, f"account = '{user.id}' AND source = 'api'") == []


def test_sent_at_corrects_only_timestamps_the_client_gave(ingest: Provider) -> None:
    """A client whose clock is two days fast: its timestamps move back by two days; its events without one
    are stamped on receipt, not two days early."""
    from datetime import timedelta

    user = ingest.user()
    _, token = cc_token(ingest, first_party=True)
    ahead = ingest.clock.now() + timedelta(days=2)
    bare, stamped = str(uuid.uuid4()), str(uuid.uuid4())
    response = post(ingest, token, {"sent_at": ahead.isoformat(), "batch": [
        {"event_id": bare, "account": user.id, "name": "skew.bare"},
        {"event_id": stamped, "account": user.id, "name": "skew.stamped",
         "timestamp": (ahead - timedelta(hours=3)).isoformat()}]})
    assert response.status_code == 202, response.text
    stored(ingest, "1")  # flushed
    analytics: Analytics = ingest.extra["analytics"]
    rows = {row["name"]: row for row in analytics.clickhouse.execute(
        "SELECT name, toUnixTimestamp(timestamp) AS ts, toUnixTimestamp(received_at) AS received FROM events FINAL"
        f" WHERE account = '{user.id}'").dicts()}
    assert rows["skew.bare"]["ts"] == rows["skew.bare"]["received"]
    assert rows["skew.stamped"]["received"] - rows["skew.stamped"]["ts"] == 3 * 3600
