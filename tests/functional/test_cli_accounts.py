"""`canary users …` and `canary orgs …` as an operator runs them: tables by default, JSON with --json, usage
errors that show the subcommand's usage, help for every option, and misspelled variables named."""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

from idp.cli import parser
from tests.support.cli import canary


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_users_list_show_disable_enable_delete(data: Path) -> None:
    created = ok(canary(data, "users", "create", "ada@example.com", "--name", "Ada", "--organization", "acme",
                        "--password-stdin", stdin="long enough password\n"))
    assert created.splitlines()[0].split() == ["FIELD", "VALUE"] and "ada@example.com" in created
    ok(canary(data, "users", "create", "bob@example.com", "--password-stdin", stdin="long enough password\n"))

    table = ok(canary(data, "users", "list")).splitlines()
    assert table[0].split()[:3] == ["ID", "EMAIL", "NAME"]
    assert [line.split()[1] for line in table[1:]] == ["ada@example.com", "bob@example.com"]
    listed = json.loads(ok(canary(data, "users", "list", "--json")))
    assert [(u["email"], u["organizations"]) for u in listed] == [("ada@example.com", ["acme"]),
                                                                  ("bob@example.com", [])]
    assert [u["email"] for u in json.loads(ok(canary(data, "users", "list", "bob", "--json")))] == ["bob@example.com"]

    ada = json.loads(ok(canary(data, "users", "show", "ada@example.com", "--json")))
    assert ada["name"] == "Ada" and ada["disabled"] is False
    assert json.loads(ok(canary(data, "users", "show", ada["id"], "--json")))["email"] == "ada@example.com"
    assert json.loads(ok(canary(data, "users", "disable", "ada@example.com", "--json")))["disabled"] is True
    assert json.loads(ok(canary(data, "users", "show", "ada@example.com", "--json")))["disabled"] is True
    assert json.loads(ok(canary(data, "users", "enable", ada["id"], "--json")))["disabled"] is False
    assert json.loads(ok(canary(data, "users", "admin", "ada@example.com", "--json")))["is_admin"] is True

    unconfirmed = canary(data, "users", "delete", "ada@example.com")
    assert unconfirmed.returncode == 2 and "--yes" in unconfirmed.stderr
    ok(canary(data, "users", "delete", "ada@example.com", "--yes"))
    gone = canary(data, "users", "show", "ada@example.com")
    assert gone.returncode == 1 and gone.stderr.strip() == "error: no account ada@example.com"
    members = json.loads(ok(canary(data, "orgs", "members", "acme", "--json")))
    assert members == []


def test_orgs_list_create_members(data: Path) -> None:
    created = json.loads(ok(canary(data, "orgs", "create", "globex", "--name", "Globex Corp", "--json")))
    assert created["slug"] == "globex" and created["name"] == "Globex Corp"
    taken = canary(data, "orgs", "create", "globex")
    assert taken.returncode == 1 and "globex" in taken.stderr and "Traceback" not in taken.stderr
    ok(canary(data, "users", "create", "cy@example.com", "--organization", "globex", "--role", "owner",
              "--password-stdin", stdin="long enough password\n"))
    table = ok(canary(data, "orgs", "list")).splitlines()
    assert table[0].split()[:3] == ["SLUG", "NAME", "MEMBERS"] and table[1].split()[0] == "globex"
    assert json.loads(ok(canary(data, "orgs", "list", "--json"))) == [
        {"id": created["id"], "slug": "globex", "name": "Globex Corp", "members": 1,
         "created_at": created["created_at"]}]
    members = json.loads(ok(canary(data, "orgs", "members", created["id"], "--json")))
    assert [(m["email"], m["role"], m["state"]) for m in members] == [("cy@example.com", "owner", "active")]
    listed = ok(canary(data, "orgs", "members", "globex"))
    assert "cy@example.com" in listed and "STATE" in listed.upper()
    unknown = canary(data, "orgs", "members", "nope")
    assert unknown.returncode == 1 and "nope" in unknown.stderr


def test_clients_create_prints_a_table_unless_json(data: Path) -> None:
    out = ok(canary(data, "clients", "create", "API", "--grant-type", "client_credentials", "--scope",
                    "events:write"))
    fields = dict(line.split(None, 1) if " " in line else (line, "") for line in out.splitlines()[1:])
    assert out.splitlines()[0].split() == ["FIELD", "VALUE"]
    assert len(fields) > 5 and not out.lstrip().startswith("{")
    assert "client secret" in out


def test_a_usage_error_shows_the_subcommands_usage(data: Path) -> None:
    wrong = canary(data, "users", "create", "ada@example.com", "--bogus")
    assert wrong.returncode == 2
    assert wrong.stderr.startswith("usage: canary users create") and "unrecognized arguments: --bogus" in wrong.stderr
    missing = canary(data, "orgs", "members")
    assert missing.returncode == 2 and missing.stderr.startswith("usage: canary orgs members")
    bare = canary(data, "alerts", "rules")
    assert bare.returncode == 2 and bare.stderr.startswith("usage: canary alerts rules")


def _parsers(p: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [p]
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                found += _parsers(child)
    return found


def test_every_command_and_option_has_help() -> None:
    missing = []
    for p in _parsers(parser()):
        for action in p._actions:
            if isinstance(action, argparse._SubParsersAction):
                helped = {a.dest for a in action._choices_actions if a.help}
                missing += [f"{p.prog} {name}" for name in action.choices if name not in helped]
            elif not isinstance(action, argparse._HelpAction) and not action.help:
                missing.append(f"{p.prog} {'/'.join(action.option_strings) or action.dest}")
    assert missing == []


def test_a_misspelled_variable_is_warned_about_at_start(data: Path) -> None:
    result = canary(data, "users", "list", CANARY_ISUER="https://id.example.com")
    assert result.returncode == 0
    assert "CANARY_ISUER is not a Canary setting and is ignored; did you mean CANARY_ISSUER?" in result.stderr


def test_failures_are_one_line_without_a_traceback(tmp_path: Path) -> None:
    unreachable = canary(tmp_path, "users", "list",
                         CANARY_DATABASE_URL=f"postgresql+psycopg://nobody@127.0.0.1:{_closed_port()}/none")
    assert unreachable.returncode == 1 and "Traceback" not in unreachable.stderr
    assert unreachable.stderr.startswith("error: the accounts database is unreachable: ")
    assert len(unreachable.stderr.strip().splitlines()) == 1
    typo = canary(tmp_path, "users", "list", CANARY_PORTT="8100", CANARY_PORT="eighty")
    assert typo.returncode == 2 and "Traceback" not in typo.stderr
    assert typo.stderr.splitlines() == [
        "warning: CANARY_PORTT is not a Canary setting and is ignored; did you mean CANARY_PORT?",
        "configuration error: CANARY_PORT must be an integer, got 'eighty'"]


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port
