"""The names by which the provider is started from outside Python code."""

from __future__ import annotations

import subprocess
import sys

from uvicorn.importer import import_from_string

import idp.asgi
from idp.bootstrap import ASGI_FACTORY


def test_the_worker_processes_import_the_asgi_entry_point_by_its_name() -> None:
    assert import_from_string(ASGI_FACTORY) is idp.asgi.app


def test_python_m_idp_cli_runs_the_canary_command() -> None:
    result = subprocess.run([sys.executable, "-m", "idp.cli", "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: canary ")
