"""TokenVerifier against a real Canary over HTTP: JWT access tokens through discovery and the JWKS, opaque
ones through introspection, the tokens it must refuse, and what it does while Canary's JWKS fails or hangs."""

from __future__ import annotations

import base64
import inspect
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey
from joserfc.jws import extract_compact

from canary_resource import InsufficientScope, InvalidToken, TokenVerifier, Unavailable
from canary_resource.discovery import Discovery
from canary_resource.jwks import JWKS
from idp.db import transaction
from idp.oauth.keys import rotate
from tests.kit.conftest import API_SCOPE, Canary, client_credentials

_open: list[TokenVerifier | httpx.Client] = []


@pytest.fixture(autouse=True)
def _close_verifiers() -> Iterator[None]:
    yield
    while _open:
        _open.pop().close()


def http_client(transport: httpx.BaseTransport) -> httpx.Client:
    """A client of the test's for a verifier, which leaves it open: the test closes it."""
    client = httpx.Client(transport=transport)
    _open.append(client)
    return client


def verifier(canary: Canary | None, **options: Any) -> TokenVerifier:
    made = (TokenVerifier(canary.url, client_id=canary.rs_id, client_secret=canary.rs_secret, **options)
            if canary is not None else TokenVerifier(**options))
    _open.append(made)
    return made


def header_of(token: str) -> dict:
    return extract_compact(token.encode()).headers()



def test_user_token_verifies_with_subject_scopes_and_client(canary: Canary) -> None:
    user, token = canary.user_token()
    claims = verifier(canary).verify(token)
    assert claims.sub == user.id
    assert API_SCOPE in claims.scopes and claims.has_scope("openid", API_SCOPE)
    assert claims.client_id and claims.expires_at > time.time()
    claims.require([API_SCOPE])
    with pytest.raises(InsufficientScope) as refused:
        claims.require(["reports:write"])
    assert refused.value.status == 403
    assert refused.value.www_authenticate() == ('Bearer error="insufficient_scope", error_description="the access '
                                                'token lacks the scope reports:write", scope="reports:write"')


@pytest.mark.parametrize("mangle", ["garbage", "signature", "payload"])
def test_malformed_or_altered_tokens_are_refused(canary: Canary, mangle: str) -> None:
    _, token = canary.user_token()
    head, body, sig = token.split(".")
    bad = {"garbage": "not.a.token",
           "signature": f"{head}.{body}.{sig[:-4]}AAAA",
           "payload": f"{head}.{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{sig}"}[mangle]
    with pytest.raises(InvalidToken) as refused:
        verifier(canary).verify(bad)
    assert refused.value.error == "invalid_token" and refused.value.status == 401
    assert refused.value.www_authenticate().startswith('Bearer error="invalid_token"')


def test_expired_token_is_refused(canary: Canary) -> None:
    _, token = canary.user_token()
    ttl = canary.settings.access_token_ttl
    assert verifier(canary).verify(token)
    later = verifier(canary, clock=lambda: time.time() + ttl + 1)
    with pytest.raises(InvalidToken, match="expired"):
        later.verify(token)
    # A token verified and cached while valid is refused once it expires.
    now = [time.time()]
    cached = verifier(canary, clock=lambda: now[0])
    cached.verify(token)
    now[0] += ttl + 1
    with pytest.raises(InvalidToken, match="expired"):
        cached.verify(token)


def test_foreign_tokens_are_refused(canary: Canary) -> None:
    _, token = canary.user_token()
    real = header_of(token)
    claims = jwt.decode(token, RSAKey.import_key(next(
        k for k in httpx.get(f"{canary.url}/jwks").json()["keys"] if k["kid"] == real["kid"]))).claims
    forger = RSAKey.generate_key(2048, private=True)
    # Canary's claims and kid, signed by another key.
    forged = jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": real["kid"]}, claims, forger)
    with pytest.raises(InvalidToken, match="signature"):
        verifier(canary).verify(forged)
    # Another issuer's well-signed token.
    other = jwt.encode({"alg": "RS256", "typ": "at+jwt", "kid": "elsewhere"},
                       {**claims, "iss": "https://id.elsewhere.example"}, forger)
    with pytest.raises(InvalidToken, match="does not publish"):
        verifier(canary).verify(other)
    # Canary's token for another audience, and HMAC or unsigned tokens.
    with pytest.raises(InvalidToken, match="audience"):
        verifier(canary, audience="https://api.example.com").verify(token)
    with pytest.raises(InvalidToken, match="algorithm"):
        verifier(canary).verify(jwt.encode({"alg": "HS256", "typ": "at+jwt", "kid": real["kid"]}, claims,
                                           OctKey.import_key("k" * 32)))


def test_id_token_is_not_an_access_token(canary: Canary) -> None:
    client_id, secret = canary.client(first_party=True, scope=f"openid {API_SCOPE}")
    user = canary.user()
    from tests.support.browser import authorize_params, sign_in
    from tests.support.tokens import exchange

    with httpx.Client(base_url=canary.url, follow_redirects=False) as browser:
        back = sign_in(browser, authorize_params(client_id, scope="openid"), user.email)
    id_token = exchange(canary, client_id, secret, back["code"]).json()["id_token"]
    with pytest.raises(InvalidToken, match="typ"):
        verifier(canary).verify(id_token)


def test_key_rotation_is_picked_up_without_restart_and_unknown_kids_are_rate_limited(canary: Canary) -> None:
    check = verifier(canary, jwks_min_refresh=0.2)
    _, before = canary.user_token()
    check.verify(before)
    assert check.jwks.fetches == 1
    with transaction(canary.context.factory) as db:
        new = rotate(db, canary.settings.signing_alg, publish_delay=0)
    canary.context.keys.reload()
    time.sleep(0.25)
    _, after = canary.user_token()
    assert header_of(after)["kid"] == new.kid
    assert check.verify(after).sub and check.jwks.fetches == 2
    assert check.verify(before).sub  # the old key stays published until its tokens expire

    # Made-up kids: one refetch at most per interval, not one per token.
    slow = verifier(canary, jwks_min_refresh=60)
    slow.verify(after)
    ec = ECKey.generate_key("P-256", private=True)
    for i in range(20):
        made_up = jwt.encode({"alg": "ES256", "typ": "at+jwt", "kid": f"kid-{i}"}, {"sub": "x"}, ec)
        with pytest.raises(InvalidToken):
            slow.verify(made_up)
    assert slow.jwks.fetches == 1


def test_opaque_tokens_are_introspected_and_cached_briefly(canary: Canary) -> None:
    user, token = canary.user_token(access_token_format="opaque")
    assert "." not in token
    now = [time.time()]
    check = verifier(canary, introspection_ttl=10, clock=lambda: now[0])
    claims = check.verify(token)
    assert claims.sub == user.id and API_SCOPE in claims.scopes
    check.verify(token)
    assert check.introspector.calls == 1  # cached
    revoked = httpx.post(f"{canary.url}/revoke", data={"token": token}, auth=canary.last_client)
    assert revoked.status_code == 200
    now[0] += 9
    assert check.verify(token).sub == user.id  # still within the cache's time
    now[0] += 2
    with pytest.raises(InvalidToken, match="not active"):
        check.verify(token)
    assert check.introspector.calls == 2
    with pytest.raises(InvalidToken, match="not active"):
        check.verify(token)  # the refusal is kept too
    assert check.introspector.calls == 2


def test_opaque_token_needs_credentials_and_refresh_tokens_are_refused(canary: Canary) -> None:
    _, token = canary.user_token(access_token_format="opaque")
    with pytest.raises(InvalidToken, match="client credentials"):
        verifier(None, issuer=canary.url).verify(token)
    cc = client_credentials(canary.url, canary.rs_id, canary.rs_secret, "events:write")
    assert verifier(canary).verify(cc).client_id == canary.rs_id


def _segment(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


CRAFTED_HEADERS = {
    "alg list": b'{"alg":["RS256"]}',
    "alg object": b'{"alg":{"RS256":1},"typ":"at+jwt","kid":"k"}',
    "typ list": b'{"alg":"RS256","typ":["at+jwt"],"kid":"k"}',
    "kid list": b'{"alg":"RS256","typ":"at+jwt","kid":["k"]}',
    "deep nesting": b"[" * 5000,
    "long": b'{"alg":"RS256","typ":"at+jwt","kid":"' + b"k" * 2000 + b'"}',
}


@pytest.mark.parametrize("name", CRAFTED_HEADERS)
def test_crafted_headers_are_invalid_tokens(canary: Canary, name: str) -> None:
    with pytest.raises(InvalidToken) as refused:
        verifier(canary).verify(_segment(CRAFTED_HEADERS[name]) + ".e30.x")
    assert refused.value.status == 401


def test_a_header_nested_deeper_than_the_parser_can_go_is_an_invalid_token(canary: Canary) -> None:
    check = verifier(canary)
    token = _segment(b"[" * 700) + ".e30.x"  # within the header's size limit
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + 200)  # as in a deep call stack of the application
    try:
        with pytest.raises(InvalidToken, match="malformed"):
            check.verify(token)
    finally:
        sys.setrecursionlimit(limit)


class FaultyJWKS(httpx.BaseTransport):
    """Canary over HTTP, except its JWKS when ``fault`` says: ``down`` answers 503, ``hang`` holds the request
    until ``release`` is set and then times out; ``discovery down`` answers 503 to the discovery document."""

    def __init__(self) -> None:
        self.real = httpx.HTTPTransport()
        self.fault: str | None = None
        self.calls: dict[str, int] = {"jwks": 0, "discovery": 0}
        self.called = threading.Event()
        self.release = threading.Event()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/openid-configuration"):
            self.calls["discovery"] += 1
            if self.fault == "discovery down":
                return httpx.Response(503)
        if request.url.path.endswith("/jwks"):
            self.calls["jwks"] += 1
            self.called.set()
            if self.fault == "down":
                return httpx.Response(503)
            if self.fault == "hang":
                self.release.wait(30)
                raise httpx.ReadTimeout("timed out", request=request)
        return self.real.handle_request(request)

    def close(self) -> None:
        self.real.close()


def made_up(i: int) -> str:
    return jwt.encode({"alg": "ES256", "typ": "at+jwt", "kid": f"made-up-{i}"}, {"sub": "x"}, _EC)


_EC = ECKey.generate_key("P-256", private=True)


def faulty_verifier(canary: Canary, now: list[float], **jwks: Any) -> tuple[TokenVerifier, FaultyJWKS]:
    transport = FaultyJWKS()
    check = verifier(canary, http=http_client(transport))
    check.jwks = JWKS(check.discovery, check.http, monotonic=lambda: now[0], **jwks)
    return check, transport


def test_while_the_jwks_fails_unknown_kids_make_one_attempt_per_interval(canary: Canary) -> None:
    now = [0.0]
    check, canary_jwks = faulty_verifier(canary, now, min_refresh=5)
    _, token = canary.user_token()
    check.verify(token)
    canary_jwks.fault = "down"
    now[0] += 5
    for i in range(20):
        with pytest.raises(Unavailable):  # the kit cannot tell: a key published since, or a made-up kid
            check.verify(made_up(i))
    assert canary_jwks.calls["jwks"] == 2  # the first fetch, then one failed attempt for twenty tokens
    now[0] += 5
    with pytest.raises(Unavailable):
        check.verify(made_up(20))
    assert canary_jwks.calls["jwks"] == 3
    canary_jwks.fault = None
    now[0] += 5
    with pytest.raises(InvalidToken, match="does not publish"):
        check.verify(made_up(21))
    assert canary_jwks.calls["jwks"] == 4 and check.jwks.fetches == 2


def test_a_known_key_keeps_verifying_when_the_set_is_due_and_canary_is_down(canary: Canary) -> None:
    now = [0.0]
    check, canary_jwks = faulty_verifier(canary, now, min_refresh=5, max_age=3600)
    _, token = canary.user_token()
    check.verify(token)
    canary_jwks.fault = "down"
    canary_jwks.called.clear()
    now[0] += 3601
    later = [canary.user_token() for _ in range(3)]
    for user, fresh in later:  # new tokens, signed by the key already known
        assert check.verify(fresh).sub == user.id
    assert canary_jwks.called.wait(10)  # the set was due: one refresh, in the background
    for user, fresh in later:
        assert check.verify(fresh).sub == user.id
    assert canary_jwks.calls["jwks"] == 2


def test_requests_waiting_for_a_hanging_jwks_take_the_outcome_of_the_fetch_under_way(canary: Canary) -> None:
    now = [0.0]
    check, canary_jwks = faulty_verifier(canary, now, min_refresh=5)
    _, token = canary.user_token()
    check.verify(token)
    canary_jwks.fault = "hang"
    canary_jwks.called.clear()
    now[0] += 5
    outcomes: list[str] = []
    started = [threading.Event() for _ in range(5)]

    def one(i: int) -> None:
        started[i].set()
        try:
            check.verify(made_up(i))
            outcomes.append("verified")
        except Unavailable:
            outcomes.append("unavailable")
        except InvalidToken:
            outcomes.append("invalid")

    threads = [threading.Thread(target=one, args=(i,)) for i in range(5)]
    for thread in threads:
        thread.start()
    assert all(event.wait(10) for event in started) and canary_jwks.called.wait(10)
    canary_jwks.release.set()
    for thread in threads:
        thread.join(30)
    assert outcomes == ["unavailable"] * 5
    assert canary_jwks.calls["jwks"] == 2  # the first fetch, and the one that hung: not one per request


def test_while_discovery_fails_it_is_tried_once_per_interval(canary: Canary) -> None:
    transport = FaultyJWKS()
    transport.fault = "discovery down"
    now = [0.0]
    check = verifier(canary, http=http_client(transport))
    check.discovery = Discovery(canary.url, check.http, retry_interval=5, monotonic=lambda: now[0])
    check.jwks = JWKS(check.discovery, check.http, min_refresh=5, monotonic=lambda: now[0])
    _, token = canary.user_token()
    for _ in range(10):
        with pytest.raises(Unavailable):
            check.verify(token)
    assert transport.calls["discovery"] == 1
    transport.fault = None
    now[0] += 5
    assert check.verify(token).sub
    assert transport.calls["discovery"] == 2
