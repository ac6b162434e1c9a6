"""`canary …` as an operator runs it: a process of its own on a data directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def canary(data_dir: Path, *args: str, stdin: str = "", **settings: str) -> subprocess.CompletedProcess[str]:
    """``canary ARGS`` with ``CANARY_DATA_DIR=data_dir`` and ``settings`` (``CANARY_…`` names) as its only Canary
    settings: none of the test run's own ``CANARY_…`` variables reaches it."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CANARY_")}
    environment.update(CANARY_DATA_DIR=str(data_dir), **settings)
    return subprocess.run([sys.executable, "-m", "idp.cli", *args], input=stdin, capture_output=True, text=True,
                          env=environment, timeout=120, check=False)
