"""Opaque access tokens: the token's claims, encrypted and authenticated with AES-256-GCM-SIV (RFC 8452).

A client registered with ``access_token_format = "opaque"`` gets access tokens that tell their holder nothing:
a resource server learns what one stands for from ``/introspect`` (RFC 7662), as with any opaque token. Canary
itself reads them without storage: issuing one writes nothing to the database, and checking one costs a
decryption, then the same deny-list and grant checks as a JWT access token (``idp.oauth.resource_access``),
so revocation works the same for both formats.

    cat1~<kid>~<base64url(nonce ‖ ciphertext ‖ tag)>

``kid`` names the signing key whose private half the 256-bit sealing key is derived from (HKDF-SHA256, its own
``info``): sealing keys come and go with ``canary keys rotate`` and are never stored. The prefix and kid are
the cipher's associated data, so neither can be swapped. ``~`` is a token character (RFC 6750 §2.1) that no
JWT contains: nothing mistakes one format for the other.

GCM-SIV rather than GCM: nonces are random and one key seals every token issued while it is in force. A GCM
nonce repeated under one key gives away the authentication key (and so forged tokens); random 96-bit nonces
keep that unlikely only up to about 2^32 tokens per key, a few days at full speed. GCM-SIV stays safe when a
nonce repeats (RFC 8452 §9) at the same cost (2.5 µs a token here).
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import threading
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCMSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from idp.oauth.keys import KeyStore, LoadedKey

PREFIX = "cat1"
SEPARATOR = "~"
_INFO = b"canary opaque access token v1"
_NONCE = 12
MAX_LENGTH = 4096


class Unsealable(Exception):
    """Not an opaque access token of this provider, or altered."""


def is_sealed(token: str) -> bool:
    return token.startswith(PREFIX + SEPARATOR)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_URLSAFE = re.compile(r"[A-Za-z0-9_-]+")


def _b64decode(text: str) -> bytes:
    """Strict: only the URL-safe alphabet, unpadded (one token, one spelling; the decoder alone would skip
    strange characters and take the standard alphabet too)."""
    if not _URLSAFE.fullmatch(text):
        raise ValueError("not unpadded base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def derive(key: LoadedKey) -> AESGCMSIV:
    """The sealing cipher of a signing key: HKDF over its private key in DER."""
    secret = key.key.as_der(private=True)
    material = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret)
    return AESGCMSIV(material)


class Sealer:
    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys
        self._ciphers: dict[str, AESGCMSIV] = {}
        self._lock = threading.Lock()

    def _cipher(self, key: LoadedKey) -> AESGCMSIV:
        cipher = self._ciphers.get(key.kid)
        if cipher is None:
            with self._lock:
                cipher = self._ciphers.setdefault(key.kid, derive(key))
        return cipher

    def seal(self, claims: dict[str, Any], key: LoadedKey) -> str:
        head = f"{PREFIX}{SEPARATOR}{key.kid}"
        nonce = os.urandom(_NONCE)
        sealed = self._cipher(key).encrypt(nonce, orjson.dumps(claims), head.encode("ascii"))
        return f"{head}{SEPARATOR}{_b64encode(nonce + sealed)}"

    def unseal(self, token: str) -> dict[str, Any]:
        """The claims of one of this provider's opaque tokens (expiry and revocation are the caller's)."""
        if len(token) > MAX_LENGTH or not token.isascii():
            raise Unsealable("not an opaque access token")
        parts = token.split(SEPARATOR)
        if len(parts) != 3 or parts[0] != PREFIX:
            raise Unsealable("not an opaque access token")
        key = self.keys.find(parts[1])
        if key is None:
            raise Unsealable("unknown key")
        try:
            data = _b64decode(parts[2])
        except (binascii.Error, ValueError) as exc:
            raise Unsealable("malformed token") from exc
        if len(data) <= _NONCE + 16:
            raise Unsealable("malformed token")
        head = f"{PREFIX}{SEPARATOR}{key.kid}".encode("ascii")
        try:
            plain = self._cipher(key).decrypt(data[:_NONCE], data[_NONCE:], head)
        except InvalidTag as exc:
            raise Unsealable("altered or foreign token") from exc
        claims = orjson.loads(plain)
        if not isinstance(claims, dict):
            raise Unsealable("malformed token")
        return claims
