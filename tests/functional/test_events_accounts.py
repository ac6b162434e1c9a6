"""Only real people in the numbers: POST /v1/events refuses accounts that do not exist, whatever the token;
accounts may be named by e-mail when the client is registered for it; organizations by id or slug; a body
that is not JSON is answered with where it stops being JSON."""

from __future__ import annotations

import json
import uuid

import httpx

from analytics.api import Analytics
from tests.functional.conftest import Provider
from tests.support.accounts import org_id
from tests.support.browser import authorize_params, sign_in
from tests.support.tokens import exchange


def post(prov: Provider, token: str, body: object) -> httpx.Response:
    return httpx.post(f"{prov.url}/v1/events", content=json.dumps(body).encode(),
                      headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}, timeout=30)


def cc_token(prov: Provider, **client: object) -> tuple[str, str]:
    client.setdefault("grant_types", ["client_credentials"])
    client.setdefault("scope", "events:write")
    client.setdefault("redirect_uris", [])
    client_id, secret = prov.client(**client)
    body = httpx.post(f"{prov.url}/token", data={"grant_type": "client_credentials"},
                      auth=(client_id, secret or "")).json()
    return client_id, body["access_token"]


def stored(prov: Provider, where: str) -> list[dict]:
    analytics: Analytics = prov.extra["analytics"]
    analytics.flush(20)
    return analytics.clickhouse.execute(f"SELECT account, organization, name FROM events FINAL WHERE {where} "
                                        "ORDER BY name").dicts()


def user_token(prov: Provider, email: str, **client: object) -> str:
    client_id, secret = prov.client(scope="openid events:write", **client)
    with httpx.Client(base_url=prov.url) as browser:
        back = sign_in(browser, authorize_params(client_id, scope="openid events:write"), email)
    token: str = exchange(prov, client_id, secret, back["code"]).json()["access_token"]
    return token


def test_unknown_accounts_are_refused_for_every_kind_of_token(ingest: Provider) -> None:
    slug = f"real-{uuid.uuid4().hex[:6]}"
    user = ingest.user(organization=slug)
    nobody = f"nobody-{uuid.uuid4().hex[:6]}"
    tokens = {
        "first-party": cc_token(ingest, first_party=True)[1],
        "organization": cc_token(ingest, organization_id=org_id(ingest, slug))[1],
        "user": user_token(ingest, user.email, first_party=True),
    }
    for kind, token in tokens.items():
        response = post(ingest, token, {"batch": [{"account": user.id, "name": "ok"},
                                                  {"account": nobody, "name": "ghost"}]})
        assert response.status_code == 400, (kind, response.text)
        assert response.json()["errors"] == [{"index": 1, "field": "account",
                                              "message": f"no account {nobody!r}"}], kind
        single = post(ingest, token, {"account": nobody, "name": "ghost"})
        assert single.status_code == 400 and single.json()["errors"][0]["index"] == 0, kind
    assert stored(ingest, f"account = '{nobody}'") == []
    assert stored(ingest, f"account = '{user.id}' AND source = 'api'") == []  # the whole batch was refused


def test_accounts_named_by_e_mail_when_the_client_is_registered_for_it(ingest: Provider) -> None:
    user = ingest.user(email=f"Named-{uuid.uuid4().hex[:6]}@example.com")
    _, allowed = cc_token(ingest, first_party=True, events_by_email=True)
    response = post(ingest, allowed, {"account": user.email.upper(), "name": "by.email"})
    assert response.status_code == 202, response.text
    assert stored(ingest, "name = 'by.email'") == [{"account": user.id, "organization": "", "name": "by.email"}]
    _, by_sub_only = cc_token(ingest, first_party=True)
    refused = post(ingest, by_sub_only, {"account": user.email, "name": "by.email.refused"})
    assert refused.status_code == 400
    [error] = refused.json()["errors"]
    assert (error["index"], error["field"]) == (0, "account") and "e-mail" in error["message"]


def test_organization_by_slug_or_id_and_a_non_member_named_as_posted(ingest: Provider) -> None:
    slug, other = f"acme-{uuid.uuid4().hex[:6]}", f"globex-{uuid.uuid4().hex[:6]}"
    user = ingest.user(organization=slug)
    ingest.user(organization=other)
    _, token = cc_token(ingest, first_party=True)
    by_slug = post(ingest, token, {"account": user.id, "name": "org.by.slug", "organization": slug})
    by_id = post(ingest, token, {"account": user.id, "name": "org.by.id", "organization": org_id(ingest, slug)})
    assert by_slug.status_code == 202 and by_id.status_code == 202, (by_slug.text, by_id.text)
    rows = stored(ingest, f"account = '{user.id}' AND name LIKE 'org.by.%'")
    assert [r["organization"] for r in rows] == [org_id(ingest, slug)] * 2
    for named in (other, org_id(ingest, other)):
        refused = post(ingest, token, {"batch": [{"account": user.id, "name": "x"},
                                                 {"account": user.id, "name": "x", "organization": named}]})
        assert refused.status_code == 403
        assert refused.json()["error_description"] == (
            f"event 1: account {user.id!r} is not a member of organization {named!r}")


def test_a_json_syntax_error_says_so_with_its_position(ingest: Provider) -> None:
    _, token = cc_token(ingest, first_party=True)
    response = httpx.post(f"{ingest.url}/v1/events", content=b'{"name": "x",\n "account": }',
                          headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert response.status_code == 400
    description = response.json()["error_description"]
    assert description.startswith("the body is not valid JSON: ") and "line 2 column 13" in description


def _invite(prov: Provider, email: str, slug: str) -> None:
    from idp.accounts import invitations
    from idp.accounts.service import find_organization
    from idp.db import transaction

    with transaction(prov.context.factory) as db:
        org = find_organization(db, slug)
        assert org is not None
        invitations.invite(prov.context.accounts, db, email=email, organization=org)


def test_an_invitation_not_yet_accepted_does_not_let_the_inviting_organization_post(ingest: Provider) -> None:
    home, inviting = f"home-{uuid.uuid4().hex[:6]}", f"inviting-{uuid.uuid4().hex[:6]}"
    user = ingest.user(organization=home)
    ingest.user(organization=inviting)
    _, token = cc_token(ingest, organization_id=org_id(ingest, inviting))
    _invite(ingest, user.email, inviting)
    refused = post(ingest, token, {"account": user.id, "name": "invited.only"})
    assert refused.status_code == 403, refused.text
    assert "not in this client's organization" in refused.json()["error_description"]
    # Nor does the pending invitation make the account's own organization ambiguous for its own tokens.
    _, own = cc_token(ingest, first_party=True)
    assert post(ingest, own, {"account": user.id, "name": "home.event"}).status_code == 202
    assert stored(ingest, f"account = '{user.id}' AND source = 'api'") == [
        {"account": user.id, "organization": org_id(ingest, home), "name": "home.event"}]


def test_an_organizations_client_cannot_tell_other_tenants_addresses_from_unknown_ones(ingest: Provider) -> None:
    mine, theirs = f"mine-{uuid.uuid4().hex[:6]}", f"theirs-{uuid.uuid4().hex[:6]}"
    member = ingest.user(email=f"member-{uuid.uuid4().hex[:6]}@example.com", organization=mine)
    outsider = ingest.user(email=f"outsider-{uuid.uuid4().hex[:6]}@example.com", organization=theirs)
    nobody = f"nobody-{uuid.uuid4().hex[:6]}@example.com"
    _, token = cc_token(ingest, organization_id=org_id(ingest, mine), events_by_email=True)
    assert post(ingest, token, {"account": member.email, "name": "mine.event"}).status_code == 202
    answers = [post(ingest, token, {"account": email, "name": "probe"}) for email in (outsider.email, nobody)]
    assert [a.status_code for a in answers] == [400, 400]
    assert [a.json()["errors"] for a in answers] == [
        [{"index": 0, "field": "account", "message": f"no account {email!r}"}] for email in (outsider.email, nobody)]
    # Named by sub, an outsider is still refused as one (a sub is no address to probe).
    by_sub = post(ingest, token, {"account": outsider.id, "name": "probe"})
    assert by_sub.status_code == 403


def test_a_refused_batch_lists_every_refused_event_so_the_sender_can_post_the_rest(ingest: Provider) -> None:
    mine, theirs = f"mine-{uuid.uuid4().hex[:6]}", f"theirs-{uuid.uuid4().hex[:6]}"
    member = ingest.user(organization=mine)
    outsider = ingest.user(organization=theirs)
    _, token = cc_token(ingest, organization_id=org_id(ingest, mine))
    batch = [{"account": member.id, "name": "a"}, {"account": outsider.id, "name": "b"},
             {"account": member.id, "name": "c", "organization": theirs}, {"account": outsider.id, "name": "d"}]
    refused = post(ingest, token, {"batch": batch})
    assert refused.status_code == 403
    body = refused.json()
    assert body["error"] == "forbidden"
    assert body["error_description"] == f"event 1: account {outsider.id!r} is not in this client's organization"
    assert body["errors"] == [
        {"index": 1, "field": "account", "message": f"account {outsider.id!r} is not in this client's organization"},
        {"index": 2, "field": "organization",
         "message": f"account {member.id!r} is not a member of organization {theirs!r}"},
        {"index": 3, "field": "account", "message": f"account {outsider.id!r} is not in this client's organization"},
    ]
    assert post(ingest, token, {"batch": [batch[0]]}).status_code == 202  # the rest goes through


def test_activity_before_an_invitation_stays_out_of_the_inviting_organizations_reports(ingest: Provider) -> None:
    from datetime import timedelta

    home, inviting = f"home-{uuid.uuid4().hex[:6]}", f"inviting-{uuid.uuid4().hex[:6]}"
    user = ingest.user(organization=home)
    ingest.user(organization=inviting)
    _, token = cc_token(ingest, first_party=True)
    then = ingest.clock.now() - timedelta(days=60)
    posted = post(ingest, token, {"account": user.id, "name": "report.viewed", "timestamp": then.isoformat()})
    assert posted.status_code == 202, posted.text
    _invite(ingest, user.email, inviting)
    stored(ingest, "1")  # flushed
    _, admin = cc_token(ingest, scope="admin", admin=True)

    def get(path: str, **params: object) -> dict:
        response = httpx.get(f"{ingest.url}/admin/api/v1{path}", params=params,  # type: ignore[arg-type]
                             headers={"Authorization": f"Bearer {admin}"}, timeout=30)
        assert response.status_code == 200, response.text
        body: dict = response.json()
        return body

    def inactive(slug: str) -> dict[str, int]:
        items = get("/activity/inactive", days=14, organization=slug)["items"]
        return {item["account_id"]: item["inactive_days"] for item in items}

    # Invited today: not inactive in the inviting organization, nor in its health, nor in its active users.
    assert user.id not in inactive(inviting)
    assert inactive(home)[user.id] == 60
    health = get(f"/organizations/{inviting}/health")
    assert (health["members"], health["inactive"]) == (2, 0)
    day = then.date().isoformat()
    end = (then.date() + timedelta(days=1)).isoformat()
    assert get("/activity/active-users", start=day, end=end, organization=inviting)["days"][0]["dau"] == 0
    assert get("/activity/active-users", start=day, end=end, organization=home)["days"][0]["dau"] == 1
