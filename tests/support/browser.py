"""A browser's side of the sign-in flow, over HTTP: /authorize, the login and consent forms, the redirect."""

from __future__ import annotations

import base64
import hashlib
import html as html_lib
import re
import secrets
from urllib.parse import parse_qs, urlsplit

import httpx

PASSWORD = "correct horse battery"
REDIRECT = "https://rp.example.com/callback"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no hidden field {name} in page"
    return html_lib.unescape(match.group(1))


def login(http: httpx.Client, page: httpx.Response, email: str, password: str = PASSWORD) -> httpx.Response:
    assert page.status_code == 200 and 'name="password"' in page.text, page.text[:500]
    return http.post("/login", data={
        "csrf_token": hidden(page.text, "csrf_token"),
        "authorization_request": hidden(page.text, "authorization_request"),
        "email": email, "password": password,
    })


def consent(http: httpx.Client, page: httpx.Response, decision: str = "allow") -> httpx.Response:
    assert page.status_code == 200 and 'name="decision"' in page.text, page.text[:500]
    return http.post("/consent", data={
        "csrf_token": hidden(page.text, "csrf_token"),
        "authorization_request": hidden(page.text, "authorization_request"),
        "decision": decision,
    })


def redirect_params(response: httpx.Response) -> dict[str, str]:
    assert response.status_code in (302, 303), (response.status_code, response.text[:500])
    location = response.headers["location"]
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def authorize_params(client_id: str, challenge: str | None = None, **extra: str) -> dict[str, str]:
    params = {"client_id": client_id, "redirect_uri": REDIRECT, "response_type": "code",
              "scope": "openid profile email offline_access", "state": secrets.token_urlsafe(8),
              "nonce": secrets.token_urlsafe(8)}
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    params.update(extra)
    return {k: v for k, v in params.items() if v != ""}


def sign_in(http: httpx.Client, params: dict[str, str], email: str, password: str = PASSWORD,
            approve: bool = True) -> dict[str, str]:
    """Browser flow to the redirect: /authorize → login form → (consent) → code."""
    response = http.get("/authorize", params=params)
    if response.status_code == 200 and 'name="password"' in response.text:
        response = login(http, response, email, password)
    if response.status_code == 200 and 'name="decision"' in response.text:
        response = consent(http, response, "allow" if approve else "deny")
    return redirect_params(response)
