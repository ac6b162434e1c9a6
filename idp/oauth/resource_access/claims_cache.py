"""Verified access-token claims kept for a while, so a busy resource server's token is not re-verified on every
request: the signature check costs more than the rest of a small events request.

Entries live ``seconds`` at most, so a signing key removed from the key store stops verifying within that time;
the token's expiry is checked on every use. What the database says about the token (revoked, disabled, client
gone) is never kept here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

SECONDS = 60.0
SIZE = 4096


class ClaimsCache:
    def __init__(self, decode: Callable[[str], dict[str, Any]], *, seconds: float = SECONDS, size: int = SIZE,
                 clock: Callable[[], float] = time.time) -> None:
        self._decode = decode
        self._seconds = seconds
        self._size = size
        self._clock = clock
        self._entries: dict[str, tuple[dict[str, Any], float]] = {}

    def claims(self, token: str) -> dict[str, Any]:
        """The token's claims, from ``decode`` or from the cache; ``decode``'s error when it does not verify."""
        entries = self._entries
        now = self._clock()
        entry = entries.get(token)
        if entry is not None and entry[1] > now and entry[0]["exp"] > now:
            return entry[0]
        try:
            claims = self._decode(token)
        except Exception:
            entries.pop(token, None)
            raise
        if len(entries) >= self._size:
            entries.clear()
        entries[token] = (claims, now + self._seconds)
        return claims
