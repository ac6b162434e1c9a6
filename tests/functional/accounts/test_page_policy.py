"""The account pages carry the Content-Security-Policy every HTML page does (``idp.web.security``), not a
weaker one of their own: scripts and styles of this origin or with the response's nonce only, nothing inline
without it, no framing."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from idp.web.security import content_security_policy
from tests.functional.accounts.conftest import Mailbox, mailing_provider, unique_email
from tests.functional.conftest import Provider
from tests.support.account_page import open_account
from tests.support.browser import PASSWORD
from tests.support.factors import post_form


@pytest.fixture(scope="module")
def open_signup(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Provider, Mailbox]]:
    with mailing_provider(database_url, tmp_path_factory.mktemp("policy"), signup="open") as pair:
        yield pair


def _pages(provider: Provider) -> dict[str, httpx.Response]:
    user = provider.user(email=unique_email("policy"))
    with httpx.Client(base_url=provider.url, timeout=30) as http:
        pages = {"/account": open_account(http, user.email), "/account/security": http.get("/account/security")}
        pages["totp set-up"] = post_form(http, "/account/security/totp-start", pages["/account/security"])
        pages["confirm"] = http.get("/account/security/confirm")
        pages["confirm, wrong password"] = post_form(http, "/account/security/confirm", pages["confirm"],
                                                     password="not the password")
        post_form(http, "/account/security/confirm", pages["confirm"], password=PASSWORD)
        for path in ("/signup", "/password/forgot", "/password/reset?token=nope", "/invitations/accept?token=nope",
                     "/email/verify?token=nope"):
            pages[path] = http.get(path)
    return pages


def test_the_account_pages_carry_the_full_policy(open_signup: tuple[Provider, Mailbox]) -> None:
    for name, page in _pages(open_signup[0]).items():
        assert page.headers["content-type"].startswith("text/html"), name
        assert page.status_code in (200, 400), (name, page.status_code)
        nonce = re.search(r"'nonce-([A-Za-z0-9_-]+)'", page.headers["content-security-policy"])
        assert nonce is not None, (name, page.headers["content-security-policy"])
        assert page.headers.get_list("content-security-policy") == [content_security_policy(nonce.group(1))], name
        assert page.headers["x-frame-options"] == "DENY", name
        inline = [attrs for _, attrs in re.findall(r"<(style|script)([^>]*)>", page.text) if "src=" not in attrs]
        assert inline and all(f'nonce="{nonce.group(1)}"' in attrs for attrs in inline), name
        assert not re.search(r"\sstyle=|\son[a-z]+=", page.text), name


def test_the_passkey_script_is_of_this_origin(open_signup: tuple[Provider, Mailbox]) -> None:
    """The pages load ``/factors/passkeys.js`` from the site itself, which ``script-src 'self'`` allows."""
    provider = open_signup[0]
    with httpx.Client(base_url=provider.url, timeout=30) as http:
        page = open_account(http, provider.user(email=unique_email("script")).email)
        security = http.get("/account/security")
        assert '<script src="/factors/passkeys.js" defer></script>' in security.text, page.text[:200]
        script = http.get("/factors/passkeys.js")
        assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
