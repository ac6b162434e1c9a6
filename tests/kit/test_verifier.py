"""TokenVerifier against a real Canary over HTTP: JWT access tokens through discovery and the JWKS, opaque
ones through introspection, and the tokens it must refuse."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey
from joserfc.jws import extract_compact

from canary_resource import InsufficientScope, InvalidToken, TokenVerifier
from idp.db import transaction
from idp.oauth.keys import rotate
from tests.kit.conftest import API_SCOPE, Canary, client_credentials

_open: list[TokenVerifier] = []


@pytest.fixture(autouse=True)
def _close_verifiers() -> Iterator[None]:
    yield
    while _open:
        _open.pop().close()


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
