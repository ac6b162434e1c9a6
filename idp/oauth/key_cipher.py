"""Private signing keys encrypted at rest (AES-256-GCM), when ``CANARY_KEY_ENCRYPTION_KEY`` is set.

The database row then holds ``enc:v1:`` + base64url(nonce ‖ ciphertext ‖ tag); the key id is the associated data,
so a ciphertext moved to another row does not decrypt. The AES key is derived from the setting with HKDF-SHA256.
A copy of the accounts database (a backup, a replica, a dump) then does not give away the keys that sign
Canary's tokens. Without the setting, keys are stored as plain JWK JSON, as before; setting it later encrypts
the stored keys at the next start.
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PREFIX = "enc:v1:"
MIN_SECRET = 32


class KeyEncryptionError(RuntimeError):
    """A stored key cannot be read: encrypted without a configured secret, or with another one."""


def cipher_from(secret: str) -> KeyCipher | None:
    """The cipher for ``CANARY_KEY_ENCRYPTION_KEY``, or None when it is empty (keys stored unencrypted)."""
    return KeyCipher(secret) if secret else None


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX)


class KeyCipher:
    def __init__(self, secret: str) -> None:
        if len(secret) < MIN_SECRET:
            raise ValueError(f"the key encryption secret must have at least {MIN_SECRET} characters")
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"canary signing keys",
                   info=b"private jwk v1").derive(secret.encode())
        self._aead = AESGCM(key)

    def seal(self, kid: str, plaintext: str) -> str:
        nonce = os.urandom(12)
        sealed = nonce + self._aead.encrypt(nonce, plaintext.encode(), kid.encode())
        return PREFIX + base64.urlsafe_b64encode(sealed).decode()

    def open(self, kid: str, stored: str) -> str:
        raw = base64.urlsafe_b64decode(stored[len(PREFIX):])
        try:
            return self._aead.decrypt(raw[:12], raw[12:], kid.encode()).decode()
        except InvalidTag as exc:
            raise KeyEncryptionError(f"signing key {kid} does not decrypt with CANARY_KEY_ENCRYPTION_KEY") from exc


def read_stored(cipher: KeyCipher | None, kid: str, stored: str) -> str:
    """The JWK JSON of a stored key, decrypting it when it was sealed."""
    if not is_sealed(stored):
        return stored
    if cipher is None:
        raise KeyEncryptionError(f"signing key {kid} is encrypted: set CANARY_KEY_ENCRYPTION_KEY")
    return cipher.open(kid, stored)
