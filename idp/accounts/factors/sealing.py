"""TOTP secrets sealed at rest (AES-256-GCM) when ``CANARY_KEY_ENCRYPTION_KEY`` is set.

The stored value is then ``enc:v1:`` + base64url(nonce ‖ ciphertext ‖ tag), with the user id as associated data
(a sealed secret copied to another user's row does not open). The AES key is derived from the setting with
HKDF-SHA256 under its own salt and info, so it differs from the key that seals signing keys. Without the setting
the secret is stored as given (base32), and sealed the next time the user enrolls.
"""

from __future__ import annotations

import base64
import os
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "enc:v1:"


class SecretUnreadable(RuntimeError):
    """A sealed secret without the configured key, or sealed with another one."""


@lru_cache(maxsize=4)
def _aead(key_encryption_key: str) -> AESGCM:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"canary second factors",
               info=b"totp secret v1").derive(key_encryption_key.encode())
    return AESGCM(key)


def seal(key_encryption_key: str, user_id: str, secret: str) -> str:
    if not key_encryption_key:
        return secret
    nonce = os.urandom(12)
    sealed = nonce + _aead(key_encryption_key).encrypt(nonce, secret.encode(), user_id.encode())
    return PREFIX + base64.urlsafe_b64encode(sealed).decode()


def open_secret(key_encryption_key: str, user_id: str, stored: str) -> str:
    if not stored.startswith(PREFIX):
        return stored
    if not key_encryption_key:
        raise SecretUnreadable("a TOTP secret is encrypted: set CANARY_KEY_ENCRYPTION_KEY")
    raw = base64.urlsafe_b64decode(stored[len(PREFIX):])
    try:
        return _aead(key_encryption_key).decrypt(raw[:12], raw[12:], user_id.encode()).decode()
    except InvalidTag as exc:
        raise SecretUnreadable("a TOTP secret does not decrypt with CANARY_KEY_ENCRYPTION_KEY") from exc


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)
