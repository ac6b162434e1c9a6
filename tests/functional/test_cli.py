"""The `canary` command, run as a real subprocess against a fresh SQLite data directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.cli import canary


def test_users_create_from_stdin_with_organization(data: Path) -> None:
    result = canary(data, "users", "create", "ada@example.com", "--name", "Ada", "--password-stdin",
                    "--organization", "acme", "--json", stdin="long enough password\n")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["email"] == "ada@example.com" and out["organization_id"]
    again = canary(data, "users", "create", "ada@example.com", "--password-stdin", stdin="long enough password\n")
    assert again.returncode == 1 and "exists" in again.stderr


def test_users_create_rejects_short_password(data: Path) -> None:
    result = canary(data, "users", "create", "bob@example.com", "--password-stdin", stdin="short\n")
    assert result.returncode == 1 and "at least" in result.stderr


def test_clients_create_prints_secret_once_and_list_hides_it(data: Path) -> None:
    result = canary(data, "clients", "create", "Web", "--redirect-uri", "https://app.example.com/cb",
                    "--first-party", "--json")
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert created["client_secret"] and created["first_party"] is True
    listed = canary(data, "clients", "list", "--json")
    rows = json.loads(listed.stdout)
    assert [r["client_id"] for r in rows] == [created["client_id"]]
    assert "client_secret" not in rows[0] and created["client_secret"] not in listed.stdout
    table = canary(data, "clients", "list")
    assert created["client_id"] in table.stdout and "confidential" in table.stdout


def test_clients_create_with_opaque_access_tokens(data: Path) -> None:
    result = canary(data, "clients", "create", "API", "--grant-type", "client_credentials", "--scope", "events:write",
                    "--access-token-format", "opaque", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["access_token_format"] == "opaque"
    default = json.loads(canary(data, "clients", "create", "Web", "--redirect-uri", "https://app.example.com/cb",
                                    "--json").stdout)
    assert default["access_token_format"] == "jwt"
    refused = canary(data, "clients", "create", "Bad", "--grant-type", "client_credentials",
                     "--access-token-format", "paseto")
    assert refused.returncode == 2 and "access-token-format" in refused.stderr


def test_public_client_has_no_secret(data: Path) -> None:
    result = canary(data, "clients", "create", "SPA", "--public", "--redirect-uri", "http://localhost:3000/cb",
                    "--json")
    created = json.loads(result.stdout)
    assert "client_secret" not in created and created["public"] is True


def test_client_with_plain_http_remote_redirect_is_refused(data: Path) -> None:
    result = canary(data, "clients", "create", "Bad", "--redirect-uri", "http://app.example.com/cb")
    assert result.returncode == 1 and "localhost" in result.stderr


def test_keys_rotate(data: Path) -> None:
    result = canary(data, "keys", "rotate", "--alg", "ES256", "--publish-delay", "60", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["alg"] == "ES256" and out["signs_from"] > out["published_at"]


def test_insecure_issuer_is_refused(tmp_path: Path) -> None:
    env = {**os.environ, "CANARY_DATA_DIR": str(tmp_path), "CANARY_ISSUER": "http://id.example.com"}
    result = subprocess.run([sys.executable, "-m", "idp.cli", "migrate", "--sql-only"], capture_output=True,
                            text=True, env=env, timeout=60, check=False)
    assert result.returncode == 2 and "https" in result.stderr


def test_migrate_on_postgresql(postgres_database: str, tmp_path: Path) -> None:
    result = canary(tmp_path, "migrate", "--sql-only", CANARY_DATABASE_URL=postgres_database)
    assert result.returncode == 0, result.stderr
    again = canary(tmp_path, "migrate", "--sql-only", CANARY_DATABASE_URL=postgres_database)
    assert again.returncode == 0
