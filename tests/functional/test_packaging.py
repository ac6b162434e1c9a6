"""Canary installs like a package: a built wheel carries the Alembic scripts, and the `canary` it installs in a
fresh virtual environment migrates a new database without the checkout; docker-compose.yml sets only settings
that exist (Docker cannot run here, so its file is checked against the settings instead)."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import yaml

from idp.settings import OPTIONS, Settings

ROOT = Path(__file__).resolve().parents[2]


def test_a_wheel_installed_in_a_fresh_environment_migrates(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
                           capture_output=True, text=True, timeout=600, check=False)
    assert built.returncode == 0, built.stderr[-2000:]
    [wheel] = wheels.glob("canary-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    versions = sorted(p.name for p in (ROOT / "alembic" / "versions").glob("*.py"))
    assert "idp/sql_migrations/env.py" in names
    assert {f"idp/sql_migrations/versions/{v}" for v in versions} <= names

    # A fresh environment with the wheel alone; its dependencies are this environment's (no downloads).
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (Path(purelib) / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                                str(wheel)], capture_output=True, text=True, timeout=300, check=False)
    assert installed.returncode == 0, installed.stderr[-2000:]

    work = tmp_path / "elsewhere"
    work.mkdir()
    environment = {k: v for k, v in os.environ.items() if not k.startswith("CANARY_")}
    environment.update(CANARY_DATA_DIR=str(work / "data"), PATH=f"{env_dir / 'bin'}:{environment['PATH']}")
    where = subprocess.run([str(python), "-c", "import idp.migrate as m; print(m.__file__, m.script_location())"],
                           cwd=work, env=environment, capture_output=True, text=True, check=True).stdout.split()
    assert where[0].startswith(purelib) and where[1] == str(Path(purelib) / "idp" / "sql_migrations")
    for _ in range(2):  # and again, with nothing to do
        migrated = subprocess.run([str(env_dir / "bin" / "canary"), "migrate"], cwd=work, env=environment,
                                  capture_output=True, text=True, timeout=300, check=False)
        assert migrated.returncode == 0, migrated.stderr[-2000:]
        assert "accounts database: up to date" in migrated.stdout
    with sqlite3.connect(work / "data" / "canary.db") as db:
        head = db.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        assert head == _head(ROOT / "alembic" / "versions")
        assert db.execute("SELECT COUNT(*) FROM clients").fetchone() == (0,)


def test_the_sdist_manifest_carries_the_alembic_scripts() -> None:
    manifest = (ROOT / "MANIFEST.in").read_text().split()
    assert "alembic" in manifest[manifest.index("graft") + 1:manifest.index("graft") + 2]


def test_the_dockerfile_installs_the_built_wheel() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert dockerfile.count("FROM ") == 2 and "pip wheel" in dockerfile
    assert "pip install --no-cache-dir /wheels/*.whl" in dockerfile and "-e ." not in dockerfile


def test_docker_compose_sets_only_existing_settings_and_valid_values() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"canary", "postgres", "clickhouse"} <= set(services)
    canary = services["canary"]
    environment: dict[str, str] = canary["environment"]
    known = {option.env for option in OPTIONS}
    assert set(environment) - known == set(), "docker-compose.yml sets variables that are not settings"
    for required in ("CANARY_ISSUER", "CANARY_DATABASE_URL", "CANARY_ANALYTICS_URL", "CANARY_KEY_ENCRYPTION_KEY"):
        assert environment.get(required), required
    # The values are accepted as the container would read them (${VAR:-default} as compose substitutes it).
    resolved = {k: _substitute(str(v)) for k, v in environment.items()}
    settings = Settings.from_env({**resolved, "CANARY_HOST": "0.0.0.0"})
    assert settings.workers > 1 and settings.analytics_url  # several workers need a ClickHouse server
    postgres, clickhouse = services["postgres"]["environment"], services["clickhouse"]["environment"]
    assert f"{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}@postgres:5432/{postgres['POSTGRES_DB']}" \
        in settings.database_url
    assert (f"{clickhouse['CLICKHOUSE_USER']}:{clickhouse['CLICKHOUSE_PASSWORD']}@clickhouse:9000/"
            f"{clickhouse['CLICKHOUSE_DB']}") in (settings.analytics_url or "")
    assert set(canary["depends_on"]) == {"postgres", "clickhouse"}
    assert all(services[name].get("healthcheck") for name in canary["depends_on"])


def _head(versions: Path) -> str:
    """The revision no other revision follows."""
    revisions, followed = set(), set()
    for script in versions.glob("*.py"):
        text = script.read_text()
        revisions.add(re.search(r'^revision: str = "(\w+)"', text, re.M).group(1))  # type: ignore[union-attr]
        down = re.search(r'^down_revision: str \| None = "(\w+)"', text, re.M)
        if down is not None:
            followed.add(down.group(1))
    [head] = revisions - followed
    return head


def _substitute(value: str) -> str:
    if value.startswith("${") and ":-" in value:
        return value[value.index(":-") + 2:-1]
    return value
