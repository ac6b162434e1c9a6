"""Private signing keys encrypted at rest with CANARY_KEY_ENCRYPTION_KEY."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from idp.db import transaction
from idp.oauth.key_cipher import KeyCipher, KeyEncryptionError, is_sealed
from idp.oauth.keys import KeyStore, ensure_key, rotate
from idp.oauth.models import SigningKey

SECRET = "an example key encryption secret of 40 chars"


def test_seal_and_open_round_trip_bound_to_the_kid() -> None:
    cipher = KeyCipher(SECRET)
    sealed = cipher.seal("kid-1", '{"kty": "RSA"}')
    assert is_sealed(sealed) and "RSA" not in sealed
    assert cipher.open("kid-1", sealed) == '{"kty": "RSA"}'
    with pytest.raises(KeyEncryptionError):
        cipher.open("kid-2", sealed)  # moved to another row
    with pytest.raises(KeyEncryptionError):
        KeyCipher(SECRET + "x").open("kid-1", sealed)
    with pytest.raises(ValueError):
        KeyCipher("short")


def stored(factory: sessionmaker[Session]) -> list[str]:
    with factory() as db:
        return list(db.scalars(select(SigningKey.private_jwk)))


def test_setting_the_secret_encrypts_stored_keys_and_they_still_sign(factory: sessionmaker[Session]) -> None:
    assert not any(is_sealed(s) for s in stored(factory))  # the fixture's key, from before the setting
    cipher = KeyCipher(SECRET)
    with transaction(factory) as db:
        ensure_key(db, "RS256", cipher)
        rotate(db, "ES256", 0, cipher)
    rows = stored(factory)
    assert len(rows) == 2 and all(is_sealed(s) for s in rows)
    assert all('"d"' not in s for s in rows)  # no private exponent in the clear
    keys = KeyStore(factory, max_token_ttl=900, cipher=cipher)
    assert {k["kty"] for k in keys.jwks()["keys"]} == {"RSA", "EC"}
    assert all("d" not in k for k in keys.jwks()["keys"])
    assert keys.signing_key("ES256").key.as_dict(private=True)["d"]

    with pytest.raises(KeyEncryptionError, match="CANARY_KEY_ENCRYPTION_KEY"):
        KeyStore(factory, max_token_ttl=900).jwks()
    with pytest.raises(KeyEncryptionError), transaction(factory) as db:
        ensure_key(db, "RS256")


def test_serve_refuses_to_start_without_the_secret(tmp_path: Path) -> None:
    env = {"CANARY_DATA_DIR": str(tmp_path), "CANARY_KEY_ENCRYPTION_KEY": SECRET, "PATH": "/usr/bin:/bin"}
    canary = [sys.executable, "-m", "idp.cli"]
    subprocess.run([*canary, "migrate", "--sql-only"], env=env, check=True, capture_output=True)
    created = subprocess.run([*canary, "keys", "rotate", "--publish-delay", "0", "--json"], env=env, check=True,
                             capture_output=True, text=True)
    assert json.loads(created.stdout)["alg"] == "RS256"
    del env["CANARY_KEY_ENCRYPTION_KEY"]
    refused = subprocess.run([*canary, "keys", "rotate"], env=env, capture_output=True, text=True)
    assert refused.returncode == 2 and "CANARY_KEY_ENCRYPTION_KEY" in refused.stderr  # no plain key beside them
    started = subprocess.run([*canary, "serve", "--port", "0"], env=env, capture_output=True, text=True, timeout=60)
    assert started.returncode == 2
    assert "is encrypted: set CANARY_KEY_ENCRYPTION_KEY" in started.stderr
