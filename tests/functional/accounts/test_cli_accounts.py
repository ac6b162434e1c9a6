"""`canary users reset-password`, `verify`, `invite`, the password rules of `users create` and `canary mail`, as
real subprocesses on a fresh SQLite data directory without SMTP: mail goes to the development outbox."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from email import message_from_bytes, policy
from pathlib import Path

from tests.support import cli


def canary(tmp: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return cli.canary(tmp, *args, stdin=stdin, CANARY_PRODUCT_NAME="Acme Cloud")


def test_users_create_applies_the_password_rules(data: Path) -> None:
    for password, why in [("nine char", "at least 10"), ("iloveyou123", "most common"),
                          ("ada@example.com", "e-mail address or your name")]:
        result = canary(data, "users", "create", "ada@example.com", "--password-stdin", stdin=password + "\n")
        assert result.returncode == 1 and why in result.stderr, result.stderr


def test_reset_password_mails_a_link_to_the_outbox_and_verify_marks_the_address(data: Path) -> None:
    created = canary(data, "users", "create", "ada@example.com", "--password-stdin", stdin="long enough phrase\n")
    assert created.returncode == 0, created.stderr
    sent = canary(data, "users", "reset-password", "ada@example.com")
    assert sent.returncode == 0, sent.stderr
    assert "link: http://localhost:8000/password/reset?token=" in sent.stderr  # the outbox logs links
    [eml] = (data / "outbox").glob("*.eml")
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["To"] == "ada@example.com" and "Acme Cloud" in message["Subject"]
    assert canary(data, "users", "reset-password", "nobody@example.com").returncode == 1
    verified = canary(data, "users", "verify", "ada@example.com", "--json")
    assert json.loads(verified.stdout)["email_verified"] is True


def test_users_invite_mails_the_link_and_the_member_waits_as_invited(data: Path) -> None:
    result = canary(data, "users", "invite", "new@example.com", "--organization", "acme", "--role", "admin", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["organization"] == "acme" and out["role"] == "admin" and out["invitation_id"]
    assert "link: http://localhost:8000/invitations/accept?token=" in result.stderr
    [eml] = (data / "outbox").glob("*.eml")
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["Subject"] == "You are invited to acme on Acme Cloud"
    assert canary(data, "users", "invite", "new@example.com", "--organization", "acme", "--client", "nope"
                  ).returncode == 1
    bad = canary(data, "users", "invite", "not-an-address", "--organization", "acme")
    assert bad.returncode == 1 and "not an e-mail address" in bad.stderr


def test_mail_test_and_status(data: Path) -> None:
    sent = canary(data, "mail", "test", "ops@example.com", "--json")
    assert sent.returncode == 0 and json.loads(sent.stdout)["sent"] is True, sent.stderr
    status = json.loads(canary(data, "mail", "status", "--json").stdout)
    assert status["messages"]["sent"] == 1 and "outbox" in status["destination"]
    again = canary(data, "mail", "test", "ops@example.com")
    assert again.returncode == 0 and len(list((data / "outbox").glob("*.eml"))) == 2
    assert not again.stdout.lstrip().startswith("{") and "ops@example.com" in again.stdout  # a record, not JSON
    table = canary(data, "mail", "status").stdout
    assert "destination" in table and not table.lstrip().startswith("{")


def test_mail_test_reports_an_smtp_server_that_is_down(data: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "CANARY_DATA_DIR": str(data), "CANARY_SMTP_HOST": "127.0.0.1",
           "CANARY_SMTP_PORT": str(port), "CANARY_SMTP_TLS": "none"}
    failed = subprocess.run([sys.executable, "-m", "idp.cli", "mail", "test", "ops@example.com", "--json"], env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert failed.returncode == 1 and json.loads(failed.stdout)["sent"] is False
    status = subprocess.run([sys.executable, "-m", "idp.cli", "mail", "status", "--json"], env=env, capture_output=True,
                            text=True, timeout=120, check=False)
    [problem] = json.loads(status.stdout)["problems"]
    assert problem["status"] == "pending" and "ConnectionRefusedError" in problem["last_error"]
