"""Signing keys kept in the database, and the JWKS built from them.

Rotation (``canary keys rotate``) inserts a key whose ``activates_at`` lies ``publish_delay`` seconds ahead:
relying parties see it in the JWKS before anything is signed with it. Each algorithm has its own key in force:
the newest key of that algorithm whose ``activates_at`` has passed. A key is superseded only by a newer key of
the same algorithm, and stays published for ``max_token_ttl`` seconds after its successor took over, so
everything it signed can still be verified until it has expired; the newest key of each algorithm is always
published.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from joserfc.jwk import ECKey, RSAKey
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from idp.clock import SYSTEM_CLOCK, Clock
from idp.db import utcnow
from idp.oauth.key_cipher import KeyCipher, KeyEncryptionError, is_sealed, read_stored
from idp.oauth.models import SigningKey

Key = RSAKey | ECKey
log = logging.getLogger("canary")


def generate_key(alg: str) -> Key:
    key: Key = RSAKey.generate_key(2048, private=True) if alg == "RS256" else ECKey.generate_key("P-256", private=True)
    return key


def add_key(db: Session, alg: str, activates_at: datetime | None = None, cipher: KeyCipher | None = None,
            now: datetime | None = None) -> SigningKey:
    if cipher is None and any(is_sealed(s) for s in db.scalars(select(SigningKey.private_jwk))):
        raise KeyEncryptionError("the stored signing keys are encrypted: set CANARY_KEY_ENCRYPTION_KEY")
    key = generate_key(alg)
    kid = key.thumbprint()
    private = json.dumps(key.as_dict(private=True))
    now = now or utcnow()
    row = SigningKey(
        kid=kid, alg=alg, private_jwk=cipher.seal(kid, private) if cipher else private,
        created_at=now, activates_at=activates_at or now,
    )
    db.add(row)
    db.flush()
    return row


def ensure_key(db: Session, alg: str, cipher: KeyCipher | None = None) -> None:
    """A key for the configured algorithm, and an RS256 key: OpenID Connect's default for ID tokens. With a
    cipher, keys still stored in plain text are encrypted; without one, encrypted keys are an error."""
    for needed in dict.fromkeys([alg, "RS256"]):
        if db.scalar(select(SigningKey.kid).where(SigningKey.alg == needed).limit(1)) is None:
            add_key(db, needed, cipher=cipher)
    for row in db.scalars(select(SigningKey)):
        plain = read_stored(cipher, row.kid, row.private_jwk)
        if cipher is not None and not is_sealed(row.private_jwk):
            row.private_jwk = cipher.seal(row.kid, plain)
    db.flush()


def rotate(db: Session, alg: str, publish_delay: int, cipher: KeyCipher | None = None,
           now: datetime | None = None) -> SigningKey:
    now = now or utcnow()
    return add_key(db, alg, now + timedelta(seconds=publish_delay), cipher, now)


@dataclass(frozen=True)
class LoadedKey:
    kid: str
    alg: str
    key: Key
    activates_at: datetime
    retires_at: datetime | None  # when a newer key of the same algorithm takes over
    unpublish_at: datetime | None


class KeyStore:
    """An in-memory view of the signing keys, reloaded from SQL every ``refresh`` seconds or on an unknown kid."""

    def __init__(self, factory: sessionmaker[Session], max_token_ttl: int, refresh: float = 30.0,
                 cipher: KeyCipher | None = None, clock: Clock = SYSTEM_CLOCK) -> None:
        self._factory = factory
        self.clock = clock
        self._cipher = cipher
        self._max_ttl = timedelta(seconds=max_token_ttl)
        self._refresh = refresh
        self._keys: list[LoadedKey] = []
        self.unreadable: tuple[str, ...] = ()  # kids of the stored keys that do not decrypt, as last loaded
        self._loaded_at = 0.0
        self._lock = threading.Lock()

    def _load(self) -> None:
        with self._factory() as db:
            rows = db.scalars(select(SigningKey).order_by(SigningKey.activates_at)).all()
        readable: list[tuple[SigningKey, Key]] = []
        unreadable: list[str] = []
        for row in rows:
            try:
                data = json.loads(read_stored(self._cipher, row.kid, row.private_jwk))
            except KeyEncryptionError as exc:
                if row is rows[-1] and not readable:
                    raise  # none loads: the secret is missing or wrong, not one key added under another
                # A key added under another encryption key (a mistyped CANARY_KEY_ENCRYPTION_KEY at rotation):
                # left out, so the keys that do load go on signing and stay published; /readyz reports it.
                log.error("%s: left out of signing and of the JWKS", exc)
                unreadable.append(row.kid)
                continue
            readable.append((row, RSAKey.import_key(data) if data["kty"] == "RSA" else ECKey.import_key(data)))
        keys: list[LoadedKey] = []
        for i, (row, key) in enumerate(readable):
            # Keys of different algorithms sign side by side (access tokens and ID tokens may differ): a key is
            # superseded only by the next key of its own algorithm.
            successor = next((later for later, _ in readable[i + 1:] if later.alg == row.alg), None)
            retires = successor.activates_at if successor is not None else None
            keys.append(LoadedKey(row.kid, row.alg, key, row.activates_at, retires,
                                  retires + self._max_ttl if retires else None))
        self._keys = keys
        self.unreadable = tuple(unreadable)
        self._loaded_at = time.monotonic()

    # An unknown kid reloads the keys at most this often: tokens with made-up kids cannot turn every request
    # into a database query and a key import.
    FORCED_RELOAD_INTERVAL = 1.0

    def _stale(self, force: bool) -> bool:
        age = time.monotonic() - self._loaded_at
        return age > self._refresh or (force and age > self.FORCED_RELOAD_INTERVAL)

    def _current(self, force: bool = False) -> list[LoadedKey]:
        if self._stale(force):
            with self._lock:
                if self._stale(force):  # not reloaded by another thread meanwhile
                    self._load()
        return self._keys

    def reload(self) -> None:
        with self._lock:
            self._load()

    def signing_key(self, alg: str | None = None, now: datetime | None = None) -> LoadedKey:
        now = now or self.clock.now()
        usable = [k for k in self._current() if k.activates_at <= now and (alg is None or k.alg == alg)]
        if not usable:
            usable = [k for k in self._current(force=True) if k.activates_at <= now and (alg is None or k.alg == alg)]
        if not usable:
            raise LookupError(f"no active {alg or ''} signing key")
        return usable[-1]

    def published(self, now: datetime | None = None) -> list[LoadedKey]:
        now = now or self.clock.now()
        return [k for k in self._current() if k.unpublish_at is None or k.unpublish_at > now]

    def find(self, kid: str) -> LoadedKey | None:
        for force in (False, True):
            for k in self._current(force=force):
                if k.kid == kid:
                    return k
        return None

    def jwks(self, now: datetime | None = None) -> dict[str, Any]:
        out = []
        for k in self.published(now):
            jwk = k.key.as_dict(private=False)
            jwk.update({"kid": k.kid, "alg": k.alg, "use": "sig"})
            out.append(jwk)
        return {"keys": out}

    def algorithms(self) -> list[str]:
        return sorted({k.alg for k in self._current()} | {"RS256"})
