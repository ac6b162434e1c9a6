"""Every HTML page: a script-restricting Content-Security-Policy with a per-request nonce, no framing."""

from __future__ import annotations

import re

import httpx

from tests.functional.conftest import Provider
from tests.support.browser import authorize_params, hidden, login


def _pages(provider: Provider, http: httpx.Client) -> dict[str, httpx.Response]:
    user = provider.user()
    client_id, _ = provider.client()  # not first-party: the consent page shows
    login_page = http.get("/authorize", params=authorize_params(client_id))
    consent_page = login(http, login_page, user.email)
    return {
        "login": login_page,
        "consent": consent_page,
        "wrong password": login(http, login_page, user.email, "wrong password"),
        "logout": http.get("/logout"),
        "error": http.get("/authorize", params={"client_id": "nobody"}),
        "signed out": http.post("/logout", data={"confirm": "yes",
                                                 "csrf_token": hidden(http.get("/logout").text, "csrf_token")}),
    }


def test_every_html_page_restricts_scripts_and_refuses_framing(provider: Provider, http: httpx.Client) -> None:
    nonces = set()
    for name, page in _pages(provider, http).items():
        assert page.headers["content-type"].startswith("text/html"), name
        assert page.headers["x-frame-options"] == "DENY", name
        policy = {d.split()[0]: d.split()[1:] for d in page.headers["content-security-policy"].split("; ")}
        assert policy["default-src"] == ["'self'"], name
        assert policy["frame-ancestors"] == ["'none'"], name
        nonce = re.fullmatch(r"'nonce-([A-Za-z0-9_-]{16,})'", policy["script-src"][-1])
        assert nonce is not None and "'unsafe-inline'" not in policy["script-src"] + policy["style-src"], name
        assert f"'nonce-{nonce.group(1)}'" in policy["style-src"], name
        # Every inline <style>/<script> carries this response's nonce; nothing inline goes without it.
        inline = [attrs for _, attrs in re.findall(r"<(style|script)([^>]*)>", page.text) if "src=" not in attrs]
        assert inline and all(f'nonce="{nonce.group(1)}"' in attrs for attrs in inline), name
        assert not re.search(r"\sstyle=|\son[a-z]+=", page.text), name
        nonces.add(nonce.group(1))
    assert len(nonces) == 6  # one per response


def test_api_answers_refuse_framing_too(provider: Provider) -> None:
    response = httpx.get(f"{provider.url}/.well-known/openid-configuration")
    assert response.headers["x-frame-options"] == "DENY" and response.headers["x-content-type-options"] == "nosniff"
