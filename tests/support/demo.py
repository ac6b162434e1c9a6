"""``canary serve --demo`` as a subprocess, and what it prints: the demo user and clients (a JSON object
before ``Try:``) and the lines after it."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any


def start_demo(env: dict[str, str], until: str = "Try:") -> tuple[subprocess.Popen[str], dict[str, Any], str]:
    """Start the demo server and read its output up to the first line starting with ``until``; returns the
    process, the printed demo object and the text read."""
    process = subprocess.Popen([sys.executable, "-m", "idp.cli", "serve", "--demo"], env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith(until):
            break
    text = "".join(lines)
    assert until in text and "\nTry:" in text, text
    demo: dict[str, Any] = json.loads(text[text.index("{"):text.index("\nTry:")])
    return process, demo, text
