"""Random opaque values and their at-rest digests.

Client secrets, codes, refresh tokens and session ids carry ≥ 256 bits of randomness, so a fast hash
(SHA-256) is enough at rest: there is nothing to brute-force. Passwords use argon2id (idp.accounts.passwords).
"""

from __future__ import annotations

import hashlib
import secrets


def new_secret(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
