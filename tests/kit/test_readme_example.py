"""The README's FastAPI example, as printed there, against a real Canary: it refuses a bad token and makes its
caller appear in ``canary activity account``."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.kit.conftest import AppServer, Canary

README = Path(__file__).resolve().parents[2] / "README.md"


def example() -> str:
    section = README.read_text().split("### Protect your API and count its users", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "no Python example in the README's section"
    return match.group(1)


def test_the_readme_fastapi_example_refuses_bad_tokens_and_counts_its_caller(
        canary: Canary, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = example()
    assert len(code.strip().splitlines()) <= 10
    monkeypatch.setenv("CANARY_ISSUER", canary.url)
    monkeypatch.setenv("CANARY_CLIENT_ID", canary.rs_id)
    monkeypatch.setenv("CANARY_CLIENT_SECRET", canary.rs_secret)
    path = tmp_path / "readme_api.py"
    path.write_text(code)
    spec = importlib.util.spec_from_file_location("readme_api", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    user, token = canary.user_token()
    with AppServer(module.app) as server:
        bad = httpx.get(f"{server.url}/reports/q3", headers={"Authorization": "Bearer forged.token.value"})
        assert bad.status_code == 401 and 'error="invalid_token"' in bad.headers["www-authenticate"]
        assert httpx.get(f"{server.url}/reports/q3").status_code == 401
        good = httpx.get(f"{server.url}/reports/q3", headers={"Authorization": f"Bearer {token}"})
        assert good.status_code == 200 and good.json() == {"report": "q3", "for": user.id}
    # The server's shutdown sent the queued event; Canary's writer moves it to ClickHouse.
    canary.analytics.flush(20)
    settings = canary.settings
    env = {"PATH": "/usr/bin:/bin", "CANARY_DATA_DIR": str(settings.data_dir),
           "CANARY_DATABASE_URL": settings.database_url, "CANARY_ANALYTICS_URL": canary.analytics_url}
    done = subprocess.run([sys.executable, "-m", "idp.cli", "activity", "account", user.email, "--json"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["events_by_name"]["GET:reports.:report_id"] == 1
