"""Password hashing with argon2id at OWASP-recommended parameters: m=7 MiB, t=5, p=1.

OWASP's Password Storage Cheat Sheet lists five argon2id configurations as equally strong, trading memory for
passes: (46 MiB, 1), (19 MiB, 2), (12 MiB, 3), (9 MiB, 4), (7 MiB, 5). On the machine Canary is benchmarked on
(`bench/signin.py --argon2-only`) a verification costs 20 ms at (7 MiB, 5) against 29 ms at (19 MiB, 2): the
smaller block stays in the CPU's cache. Hashes made with other parameters (earlier versions used 19 MiB, 2)
still verify and are re-hashed at the next successful sign-in.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher(time_cost=5, memory_cost=7 * 1024, parallelism=1, hash_len=32, salt_len=16)

# Verified against when the user does not exist, so unknown e-mails cost the same time as wrong passwords.
_DUMMY_HASH = _hasher.hash("canary-timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
