"""Opaque access tokens: sealing, and everything that must refuse to unseal."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from idp.oauth.keys import LoadedKey, generate_key
from idp.oauth.sealed import PREFIX, Sealer, Unsealable, derive, is_sealed

CLAIMS = {"iss": "https://id.example.com", "sub": "svc", "exp": 2_000_000_000, "jti": "j1", "scope": "events:write"}


class Keys:
    """The part of KeyStore the sealer uses: keys by kid."""

    def __init__(self, *algs: str) -> None:
        self.keys = {}
        for alg in algs:
            key = generate_key(alg)
            self.keys[key.thumbprint()] = LoadedKey(key.thumbprint(), alg, key, datetime.now(UTC), None, None)

    def find(self, kid: str) -> LoadedKey | None:
        return self.keys.get(kid)

    def first(self) -> LoadedKey:
        return next(iter(self.keys.values()))


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys("RS256", "ES256")


def test_round_trip_under_every_key_and_fresh_nonces(keys: Keys) -> None:
    sealer = Sealer(keys)  # type: ignore[arg-type]
    for key in keys.keys.values():
        token = sealer.seal(CLAIMS, key)
        assert is_sealed(token) and token.split("~")[1] == key.kid
        assert sealer.unseal(token) == CLAIMS
        assert sealer.seal(CLAIMS, key) != token  # a new nonce each time


def test_keys_are_derived_per_signing_key(keys: Keys) -> None:
    rsa, ec = keys.keys.values()
    plain, nonce = b"same", b"\0" * 12
    assert derive(rsa).encrypt(nonce, plain, None) != derive(ec).encrypt(nonce, plain, None)
    assert derive(rsa).encrypt(nonce, plain, None) == derive(rsa).encrypt(nonce, plain, None)


def test_everything_altered_is_refused(keys: Keys) -> None:
    sealer = Sealer(keys)  # type: ignore[arg-type]
    rsa, ec = keys.keys.values()
    token = sealer.seal(CLAIMS, rsa)
    head, kid, body = token.split("~")
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    raw[-1] ^= 1
    flipped = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    while "-" not in body and "_" not in body:  # rare: re-seal until the standard spelling differs
        token = sealer.seal(CLAIMS, rsa)
        head, kid, body = token.split("~")
    standard = body.replace("-", "+").replace("_", "/")
    refused = {
        "tag": f"{head}~{kid}~{flipped}",
        "kid swapped": f"{head}~{ec.kid}~{body}",  # the kid is associated data: another key cannot open it
        "unknown kid": f"{head}~nope~{body}",
        "version": f"cat2~{kid}~{body}",
        "truncated": f"{head}~{kid}~{body[:30]}",
        "not base64": f"{head}~{kid}~***",
        "junk inside base64": f"{head}~{kid}~{body[:8]}!{body[8:]}",
        "standard alphabet": f"{head}~{kid}~{standard}",  # the same bytes, spelled another way
        "extra part": f"{token}~x",
        "non-ASCII": token + "é",
        "oversized": f"{head}~{kid}~" + "A" * 5000,
        "empty": "",
    }
    for name, bad in refused.items():
        with pytest.raises(Unsealable):
            sealer.unseal(bad)
            pytest.fail(f"unsealed the {name} case")


def test_a_sealed_array_is_not_claims(keys: Keys) -> None:
    sealer = Sealer(keys)  # type: ignore[arg-type]
    key = keys.first()
    cipher = derive(key)
    head = f"{PREFIX}~{key.kid}"
    nonce = b"\1" * 12
    body = base64.urlsafe_b64encode(nonce + cipher.encrypt(nonce, b"[1, 2]", head.encode())).rstrip(b"=").decode()
    with pytest.raises(Unsealable):
        sealer.unseal(f"{head}~{body}")
