"""The password-reset pages as a browser uses them: "Forgot password?" from the sign-in page, then the mailed
link's form."""

from __future__ import annotations

import html
import re

import httpx

from tests.support.browser import hidden

NEW_PASSWORD = "a brand new passphrase"


def forgot(browser: httpx.Client, login_page: httpx.Response, email: str) -> httpx.Response:
    link = re.search(r'href="([^"]*)">Forgot password\?', login_page.text)
    assert link, login_page.text
    form = browser.get(html.unescape(link.group(1)))
    assert form.status_code == 200
    return browser.post("/password/forgot", data={"csrf_token": hidden(form.text, "csrf_token"),
                                                  "authorization_request": hidden(form.text, "authorization_request"),
                                                  "email": email})


def choose(browser: httpx.Client, link: str, password: str, repeat: str | None = None) -> httpx.Response:
    form = browser.get(link)
    if form.status_code != 200:
        return form
    return browser.post("/password/reset", data={"csrf_token": hidden(form.text, "csrf_token"),
                                                 "token": hidden(form.text, "token"), "password": password,
                                                 "repeat": password if repeat is None else repeat})
