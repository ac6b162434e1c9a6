"""Invitations over real HTTP with mail through a real SMTP server: the invited person follows the link from
the mail, sets a password, is sent on to the application, signs in through a standard OIDC client library and
is a member; someone with an account joins with their password; resend and revoke; the admin API and CLI."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from idp.accounts.models import User
from tests.functional.accounts.conftest import Mailbox, unique_email
from tests.functional.conftest import Provider
from tests.support.accounts import org_id
from tests.support.admin_api import AdminApi
from tests.support.browser import PASSWORD, hidden, redirect_params
from tests.support.relying_party import RelyingParty

CHOSEN = "violet sunsets over the bay"


@pytest.fixture
def api(provider_m: Provider) -> Iterator[AdminApi]:
    admin = AdminApi(provider_m)
    yield admin
    admin.http.close()


def accept(browser: httpx.Client, link: str, **fields: str) -> httpx.Response:
    page = browser.get(link)
    assert page.status_code == 200, page.text
    return browser.post("/invitations/accept", data={"csrf_token": hidden(page.text, "csrf_token"),
                                                     "token": hidden(page.text, "token"), **fields})


def test_invited_person_sets_a_password_is_sent_on_and_signs_in_as_a_member(
        provider_m: Provider, mailbox: Mailbox, browser: httpx.Client, api: AdminApi) -> None:
    slug = f"acme-{unique_email('o')[2:12]}"
    org_id(provider_m, slug)
    api.call("PATCH", f"/organizations/{slug}", json={"name": "Acme Corporation"})
    client = api.call("POST", "/clients", 201, json={
        "name": "Acme app", "redirect_uris": ["https://rp.example.com/callback"], "first_party": True,
        "logo_uri": "https://rp.example.com/logo.png", "initiate_login_uri": "https://rp.example.com/login"})
    email = unique_email("invitee")
    invitation = api.call("POST", f"/organizations/{slug}/invitations", 201,
                          json={"email": email, "client_id": client["client_id"]})
    assert invitation["status"] == "pending" and invitation["role"] == "member"
    pending = api.member(slug, email)
    assert pending is not None and pending["state"] == "invited" and pending["invited_at"]

    message = mailbox.last(email)
    assert message["Subject"] == "You are invited to Acme Corporation on Acme Cloud"
    link = mailbox.link(email, "/invitations/accept")
    page = browser.get(link)
    assert "Join Acme Corporation" in page.text and "https://rp.example.com/logo.png" in page.text
    assert "img-src 'self' data: https://rp.example.com;" in page.headers["content-security-policy"]
    weak = accept(browser, link, name="Ines", password="12345678901", repeat="12345678901")
    assert weak.status_code == 400 and "most common" in weak.text
    sent_on = accept(browser, link, name="Ines Invitee", password=CHOSEN, repeat=CHOSEN)
    assert sent_on.status_code == 303, sent_on.text
    target = urlsplit(sent_on.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == "https://rp.example.com/login"
    assert parse_qs(target.query) == {"iss": [provider_m.url], "login_hint": [email]}
    assert browser.get(link).status_code == 400  # single use

    # The application starts its sign-in; the browser is signed in already.
    rp = RelyingParty(provider_m.url, client["client_id"], client["client_secret"])
    tokens = rp.tokens(redirect_params(browser.get(rp.authorization_url()))["code"])
    assert tokens["id_token"]
    info = rp.userinfo()
    assert info["email"] == email and info["email_verified"] is True and info["name"] == "Ines Invitee"
    member = api.member(slug, email)
    assert member is not None and member["state"] == "active" and member["account_id"] == info["sub"]
    [listed] = api.call("GET", f"/organizations/{slug}/invitations")["items"]
    assert listed["status"] == "accepted"


def test_someone_with_an_account_joins_with_their_password(
        provider_m: Provider, mailbox: Mailbox, browser: httpx.Client, api: AdminApi) -> None:
    user = provider_m.user(email=unique_email("member"), name="Known Person")
    slug = f"beta-{unique_email('o')[2:12]}"
    org_id(provider_m, slug)
    api.call("POST", f"/organizations/{slug}/invitations", 201, json={"email": user.email, "role": "admin"})
    link = mailbox.link(user.email, "/invitations/accept")
    assert "already have an account" in browser.get(link).text
    wrong = accept(browser, link, password="not my password at all")
    assert wrong.status_code == 400 and "Wrong password" in wrong.text
    with provider_m.context.factory() as db:  # counted like a failed sign-in
        counted = db.get(User, user.id)
        assert counted is not None and counted.failed_logins == 1
    joined = accept(browser, link, password=PASSWORD)
    assert joined.status_code == 200 and f"You joined {slug}" in joined.text
    member = api.member(slug, user.email)
    assert member is not None and member["state"] == "active" and member["role"] == "admin"
    again = api.http.post(f"/organizations/{slug}/invitations", json={"email": user.email})
    assert again.status_code == 400 and "already a member" in again.json()["error_description"]


def test_resend_replaces_the_link_and_revoke_removes_the_invited_member(
        provider_m: Provider, mailbox: Mailbox, browser: httpx.Client, api: AdminApi) -> None:
    slug = f"gamma-{unique_email('o')[2:12]}"
    org_id(provider_m, slug)
    email = unique_email("late")
    invitation = api.call("POST", f"/organizations/{slug}/invitations", 201, json={"email": email})
    first = mailbox.link(email, "/invitations/accept")
    api.call("POST", f"/organizations/{slug}/invitations/{invitation['id']}/resend")
    second = mailbox.link(email, "/invitations/accept")
    assert first != second
    assert browser.get(first).status_code == 400 and browser.get(second).status_code == 200
    revoked = api.call("POST", f"/organizations/{slug}/invitations/{invitation['id']}/revoke")
    assert revoked["status"] == "revoked"
    assert browser.get(second).status_code == 400
    assert api.member(slug, email) is None
    assert api.http.post(f"/organizations/{slug}/invitations/{invitation['id']}/resend").status_code == 400
    assert api.http.post(f"/organizations/{slug}/invitations", json={"email": email, "role": "owner"}
                         ).status_code == 400
    # An operator who adds an invited person directly makes the membership active.
    again = api.call("POST", f"/organizations/{slug}/invitations", 201, json={"email": email})
    assert api.member(slug, email)["state"] == "invited"  # type: ignore[index]
    added = api.call("PUT", f"/organizations/{slug}/members/{again['account_id']}", json={"role": "member"})
    assert added["state"] == "active"


def test_invitations_expire(provider_m: Provider, mailbox: Mailbox, browser: httpx.Client, api: AdminApi) -> None:
    slug = f"delta-{unique_email('o')[2:12]}"
    org_id(provider_m, slug)
    email = unique_email("slow")
    api.call("POST", f"/organizations/{slug}/invitations", 201, json={"email": email})
    link = mailbox.link(email, "/invitations/accept")
    provider_m.clock.advance(7 * 86400 + 60)
    assert browser.get(link).status_code == 400
    fresh = AdminApi(provider_m)  # the earlier admin token expired with the move
    [listed] = fresh.call("GET", f"/organizations/{slug}/invitations")["items"]
    fresh.http.close()
    assert listed["status"] == "expired"


def test_an_account_with_a_second_factor_joins_but_signs_in_through_the_second_step(
        provider_m: Provider, mailbox: Mailbox, browser: httpx.Client, api: AdminApi) -> None:
    from idp.accounts.models import TotpFactor
    from idp.db import transaction

    user = provider_m.user(email=unique_email("mfa"), name="Careful Person")
    with transaction(provider_m.context.factory) as db:
        db.add(TotpFactor(user_id=user.id, secret="JBSWY3DPEHPK3PXP", confirmed_at=provider_m.clock.now()))
    slug = f"eps-{unique_email('o')[2:12]}"
    org_id(provider_m, slug)
    api.call("POST", f"/organizations/{slug}/invitations", 201, json={"email": user.email})
    joined = accept(browser, mailbox.link(user.email, "/invitations/accept"), password=PASSWORD)
    assert joined.status_code == 200 and f"You joined {slug}" in joined.text
    assert "canary_session" not in joined.headers.get("set-cookie", "")
    assert browser.get("/account").status_code == 302  # not signed in: the password alone is not enough
    member = api.member(slug, user.email)
    assert member is not None and member["state"] == "active"
