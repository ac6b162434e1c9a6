"""What the `canary` command refuses, and how: numbers out of bounds are usage errors (exit 2), values the
admin API refuses are refused alike, a configuration that cannot work is a one-line configuration error, and
what a command printed was committed."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from idp.cli import main
from idp.oauth.models import SigningKey
from tests.support.cli import canary

KEY = "k" * 40
OTHER_KEY = "o" * 40


def refused(result: subprocess.CompletedProcess[str], status: int, *words: str) -> None:
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    assert "unexpected" not in result.stderr and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


@pytest.mark.parametrize("args", [
    ("users", "list", "--limit", "99999999999999999999999"),
    ("users", "list", "--limit", "-5"),
    ("users", "list", "--limit", "0"),
    ("users", "list", "--limit", "\u00b2"),
    ("orgs", "members", "acme", "--limit", "-1"),
    ("orgs", "list", "--limit", "-1"),
    ("mail", "status", "--limit", "-1"),
    ("keys", "rotate", "--publish-delay", "99999999999999999999"),
    ("keys", "rotate", "--publish-delay", "-5"),
    ("activity", "inactive", "--days", "99999999999"),
    ("activity", "inactive", "--days", "0"),
    ("activity", "at-risk", "--limit", "-5"),
    ("alerts", "rules", "create", "r", "--days", "7", "--webhook", "99999999999999999999999"),
    ("alerts", "rules", "create", "r", "--days", "3651", "--email", "ops@example.com"),
    ("alerts", "rules", "delete", "99999999999999999999"),
    ("alerts", "webhooks", "enable", "0"),
    ("serve", "--port", "99999"),
    ("serve", "--port", "-1"),
    ("serve", "--workers", "0"),
])
def test_numbers_out_of_bounds_are_usage_errors(data: Path, args: tuple[str, ...]) -> None:
    result = canary(data, *args)
    refused(result, 2, "must be a whole number from")
    assert "usage: canary" in result.stderr


def test_users_create_refusals(data: Path) -> None:
    refused(canary(data, "users", "create", "x@example.com"), 2, "--password-stdin")  # stdin is no terminal
    refused(canary(data, "users", "create", "e@example.com", "--password-stdin"), 2, "canary users invite")
    refused(canary(data, "users", "create", "e@example.com", "--password-stdin", stdin="\n"), 2, "empty")
    refused(canary(data, "users", "create", "r@example.com", "--role", "admin", "--password-stdin",
                   stdin="long enough password\n"), 2, "--role needs --organization")
    refused(canary(data, "users", "create", "b@example.com", "--organization", "acme", "--role", "Big Boss!",
                   "--password-stdin", stdin="long enough password\n"), 2, "--role must match")
    refused(canary(data, "users", "create", "<q@example.com>", "--password-stdin",
                   stdin="long enough password\n"), 1, "not an e-mail address")
    assert json.loads(canary(data, "users", "list", "--json").stdout) == []  # nothing was created

    created = canary(data, "users", "create", "b@example.com", "--organization", "acme", "--role", "billing",
                     "--password-stdin", "--json", stdin="long enough password\n")
    assert created.returncode == 0, created.stderr
    members = json.loads(canary(data, "orgs", "members", "acme", "--json").stdout)
    assert [(m["email"], m["role"]) for m in members] == [("b@example.com", "billing")]


@pytest.mark.parametrize(("args", "words"), [
    (("clients", "create", ""), ("NAME", "at least 1")),
    (("clients", "create", "n" * 201), ("NAME", "at most 200")),
    (("clients", "create", "x", "--scope", 'a"b'), ("--scope",)),
    (("clients", "create", "x", "--redirect-uri", ""), ("--redirect-uri[0]",)),
    (("clients", "create", "x", "--redirect-uri", "https://[::1/cb"), ("redirect URI",)),
    (("clients", "create", "x", "--redirect-uri", "https://example.com:99999/cb"), ("redirect URI",)),
])
def test_clients_create_refuses_what_the_admin_api_refuses(data: Path, args: tuple[str, ...],
                                                           words: tuple[str, ...]) -> None:
    refused(canary(data, *args), 1, *words)
    assert json.loads(canary(data, "clients", "list", "--json").stdout) == []


def test_mail_test_refuses_what_is_no_address(data: Path) -> None:
    refused(canary(data, "mail", "test", "a@b.c\nd"), 1, "not an e-mail address")


def test_alert_refusals_and_one_line_on_success(data: Path) -> None:
    refused(canary(data, "alerts", "webhooks", "create", "https://example.com:abc/x"), 1, "url")
    refused(canary(data, "alerts", "webhooks", "create", "https://example.com/x", "--secret", "whsec_\u00e9"), 1,
            "secret")
    refused(canary(data, "alerts", "rules", "create", "r", "--email", "ops@example.com"), 2, "--days")
    declining = canary(data, "alerts", "rules", "create", "orgs", "--kind", "organization.declining", "--email",
                       "ops@example.com", "--json")
    assert declining.returncode == 0, declining.stderr
    rule = json.loads(declining.stdout)
    assert rule["kind"] == "organization.declining"
    deleted = canary(data, "alerts", "rules", "delete", str(rule["id"]))
    assert deleted.returncode == 0 and deleted.stdout.strip() == f"deleted alert rule {rule['id']}"

    hook = json.loads(canary(data, "alerts", "webhooks", "create", "https://hooks.example.com/x", "--json").stdout)
    enabled = canary(data, "alerts", "webhooks", "enable", str(hook["id"]))
    assert enabled.returncode == 0 and enabled.stdout.strip() == f"enabled webhook endpoint {hook['id']}"


def _keys(data: Path) -> int:
    engine = create_engine(f"sqlite:///{data / 'canary.db'}")
    try:
        with engine.connect() as connection:
            return int(connection.scalar(select(func.count()).select_from(SigningKey)) or 0)
    finally:
        engine.dispose()


def test_keys_rotate_refuses_a_key_encryption_key_that_does_not_open_the_stored_keys(data: Path) -> None:
    first = canary(data, "keys", "rotate", CANARY_KEY_ENCRYPTION_KEY=KEY)
    assert first.returncode == 0, first.stderr
    wrong = canary(data, "keys", "rotate", CANARY_KEY_ENCRYPTION_KEY=OTHER_KEY)
    refused(wrong, 2, "configuration error", "do not decrypt", "no key was added")
    assert len(wrong.stderr.strip().splitlines()) == 1
    refused(canary(data, "keys", "rotate"), 2, "CANARY_KEY_ENCRYPTION_KEY")
    assert _keys(data) == 1
    assert canary(data, "keys", "rotate", CANARY_KEY_ENCRYPTION_KEY=KEY).returncode == 0
    assert _keys(data) == 2


@pytest.mark.parametrize(("env", "words"), [
    ({"CANARY_DATABASE_URL": "bogus"}, ("CANARY_DATABASE_URL",)),
    ({"CANARY_DATABASE_URL": "postgresql://"}, ("CANARY_DATABASE_URL", "postgresql+psycopg://")),
    ({"CANARY_DATABASE_URL": "nosuchdb://x/y"}, ("CANARY_DATABASE_URL",)),
    ({"CANARY_DATABASE_URL": "postgresql+psycopg://u:secret@h:1:2/db"}, ("CANARY_DATABASE_URL", "***")),
    ({"CANARY_ISSUER": "http://[::1"}, ("CANARY_ISSUER",)),
    ({"CANARY_ISSUER": "http://localhost:99999"}, ("CANARY_ISSUER",)),
    ({"CANARY_EVENT_RETENTION_DAYS": "99999999"}, ("CANARY_EVENT_RETENTION_DAYS", "36500")),
])
def test_settings_that_cannot_work_are_configuration_errors(tmp_path: Path, env: dict[str, str],
                                                            words: tuple[str, ...]) -> None:
    result = canary(tmp_path, "users", "list", **env)
    refused(result, 2, "configuration error", *words)
    assert len(result.stderr.strip().splitlines()) == 1 and "secret" not in result.stderr


def test_links_in_mail_warn_when_the_issuer_is_not_set(data: Path) -> None:
    assert canary(data, "users", "create", "ann@example.com", "--password-stdin",
                  stdin="long enough password\n").returncode == 0
    for args in (("users", "reset-password", "ann@example.com"),
                 ("users", "invite", "bo@example.com", "--organization", "acme")):
        unset = canary(data, *args, CANARY_PORT="8123")
        assert unset.returncode == 0, unset.stderr
        assert "warning: CANARY_ISSUER is not set" in unset.stderr and "http://localhost:8123" in unset.stderr
        given = canary(data, *args, CANARY_ISSUER="http://localhost:8123")
        assert given.returncode == 0 and "CANARY_ISSUER" not in given.stderr, given.stderr


class ClosedPipe(io.StringIO):
    """A stdout whose reader went away."""

    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


@pytest.mark.parametrize(("args", "listing"), [
    (("orgs", "create", "acme"), ("orgs", "list", "--json")),
    (("alerts", "webhooks", "create", "https://hooks.example.com/x"), ("alerts", "webhooks", "list", "--json")),
    (("alerts", "rules", "create", "r", "--days", "7", "--email", "ops@example.com"),
     ("alerts", "rules", "list", "--json")),
    (("clients", "create", "web", "--redirect-uri", "https://app.example.com/cb"), ("clients", "list", "--json")),
])
def test_what_a_command_printed_stays_when_its_reader_is_gone(data: Path, monkeypatch: pytest.MonkeyPatch,
                                                             args: tuple[str, ...], listing: tuple[str, ...]) -> None:
    monkeypatch.setenv("CANARY_DATA_DIR", str(data))
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    main(list(args))
    monkeypatch.undo()
    assert len(json.loads(canary(data, *listing).stdout)) == 1
