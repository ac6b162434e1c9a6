"""Who gets into the console, where sign-in leads back to, `/`, and the old /dashboard addresses."""

from __future__ import annotations

import re

import httpx

from tests.functional.conftest import Provider
from tests.support.browser import login
from tests.support.console import Console, make_admin, sign_in


def test_an_operator_signs_in_and_lands_on_the_page_asked_for(provider: Provider) -> None:
    admin = make_admin(provider)
    with httpx.Client(base_url=provider.url) as http:
        page = sign_in(http, admin.email, "/console/clients")
        assert page.status_code == 200 and "<h1>Clients</h1>" in page.text
        assert admin.email in page.text  # the header names who is signed in
        assert page.headers["cache-control"] == "no-store" and page.headers["x-frame-options"] == "DENY"
        assert 'href="/console/static/console.css"' in page.text and "<style" not in page.text


def test_a_signed_in_user_who_is_no_administrator_is_refused(provider: Provider) -> None:
    user = provider.user()
    with httpx.Client(base_url=provider.url) as http:
        first = http.get("/console/users")
        landed = login(http, http.get(first.headers["location"]), user.email)
        http.get(landed.headers["location"])
        refused = http.get("/console/users")
        assert refused.status_code == 403 and "may not open the console" in refused.text
        assert http.post("/console/organizations", data={"slug": "nope"}).status_code == 403
        home = http.get("/")
        assert home.status_code == 200 and "not an administrator" in home.text


def test_nobody_signed_in_is_sent_to_sign_in_even_for_a_form(provider: Provider) -> None:
    with httpx.Client(base_url=provider.url) as http:
        posted = http.post("/console/organizations", data={"slug": "sneaky"})
        assert posted.status_code == 302 and posted.headers["location"].startswith("/authorize?client_id=canary-")


def test_the_callback_returns_only_to_console_pages_and_only_with_its_state(provider: Provider) -> None:
    with httpx.Client(base_url=provider.url) as http:
        assert http.get("/dashboard/callback", params={"state": "x"}).headers["location"] == "/console"
        http.cookies.set("canary_console_signin", "abc https://evil.example/console")
        assert http.get("/dashboard/callback", params={"state": "abc"}).headers["location"] == "/console"
        http.cookies.set("canary_console_signin", "abc //evil.example/")
        assert http.get("/dashboard/callback", params={"state": "abc"}).headers["location"] == "/console"
        http.cookies.set("canary_console_signin", "abc /console/users?q=ada")
        assert http.get("/dashboard/callback", params={"state": "wrong"}).headers["location"] == "/console"
        http.cookies.set("canary_console_signin", "abc /console/users?q=ada")
        assert http.get("/dashboard/callback", params={"state": "abc"}).headers["location"] == "/console/users?q=ada"


def test_root_is_a_short_page_for_visitors_and_the_console_for_operators(provider: Provider,
                                                                          console: Console) -> None:
    with httpx.Client(base_url=provider.url) as visitor:
        page = visitor.get("/")
        assert page.status_code == 200 and "/.well-known/openid-configuration" in page.text
        assert 'href="/console"' in page.text
    assert console.get("/").headers["location"] == "/console"


def test_old_dashboard_addresses_lead_to_the_console(provider: Provider) -> None:
    with httpx.Client(base_url=provider.url) as http:
        assert http.get("/dashboard").headers["location"] == "/console"
        assert http.get("/dashboard", params={"org": "acme"}).headers["location"] == "/console?org=acme"
        assert http.get("/dashboard/accounts/abc").headers["location"] == "/console/users/abc"


def test_static_files_are_served(provider: Provider) -> None:
    with httpx.Client(base_url=provider.url) as http:
        css = http.get("/console/static/console.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        script = http.get("/console/static/console.js")
        assert script.status_code == 200 and "data-confirm" in script.text.replace("dataset.confirm", "data-confirm")
        assert http.get("/console/static/../pages.py").status_code == 404


def test_every_page_renders_for_an_operator(console: Console) -> None:
    for path in ("/console", "/console/users", "/console/organizations", "/console/clients", "/console/alerts",
                 "/console/webhooks", "/console/deliveries", "/console/settings"):
        page = console.get(path)
        assert page.status_code == 200, (path, page.text[:500])
        assert 'aria-current="page"' in page.text


def test_the_overview_without_analytics_says_so(console: Console) -> None:
    page = console.get("/console")
    assert "Analytics is not configured" in page.text
    assert console.get("/console", org="no-such-org").status_code == 404


def test_pages_carry_no_inline_script_style_or_handler(console: Console, provider: Provider) -> None:
    """What a `default-src 'self'` Content-Security-Policy allows: scripts and styles from files only."""
    user = provider.user()
    client_id, _ = provider.client()
    for path in ("/console", "/console/users", f"/console/users/{user.id}", "/console/organizations",
                 "/console/clients", f"/console/clients/{client_id}", "/console/alerts", "/console/webhooks",
                 "/console/deliveries", "/console/settings"):
        text = console.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), path
        assert "<style" not in text and not re.search(r"\sstyle=", text), path
        assert not re.search(r"\son[a-z]+=", text), path
    with httpx.Client(base_url=provider.url) as visitor:
        home = visitor.get("/").text
        assert "<style" not in home and "<script" not in home


def test_every_form_post_without_the_csrf_token_is_refused(console: Console) -> None:
    from starlette.routing import Route

    from idp.web import console as package

    posts = [r.path for r in package.routes if isinstance(r, Route) and "POST" in (r.methods or ())]
    assert len(posts) >= 15
    for path in posts:
        filled = re.sub(r"{[a-z_]+}", "1", path)
        refused = console.post(filled, {"name": "x", "slug": "x-forged", "url": "https://x.example/"}, csrf=False)
        assert refused.status_code == 403, (path, refused.status_code)
        assert "nothing was changed" in refused.text, path
    assert "x-forged" not in console.get("/console/organizations", q="x-forged").text.split("</form>", 1)[1]
