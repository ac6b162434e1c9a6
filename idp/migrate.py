"""Schema migrations: Alembic for the accounts database, analytics' own versions for ClickHouse."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config

from idp.db import make_engine
from idp.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
# An installed package carries the scripts here (setup.py copies them at build time); a checkout has them at
# the top of the repository.
PACKAGED = Path(__file__).resolve().parent / "sql_migrations"
CHECKOUT = ROOT / "alembic"


def script_location() -> Path:
    """Where the Alembic scripts are: CANARY_MIGRATIONS, else the packaged copy, else the checkout's."""
    if "CANARY_MIGRATIONS" in os.environ:
        return Path(os.environ["CANARY_MIGRATIONS"])
    return PACKAGED if (PACKAGED / "env.py").is_file() else CHECKOUT


def alembic_config(url: str) -> Config:
    directory = script_location()
    if not (directory / "env.py").is_file():
        raise FileNotFoundError(f"no Alembic scripts at {directory}: reinstall canary (or set CANARY_MIGRATIONS)")
    cfg = Config()
    cfg.set_main_option("script_location", str(directory))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate_sql(settings: Settings) -> None:
    if settings.embedded_database:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.database_url)
    try:
        with engine.begin() as connection:
            cfg = alembic_config(settings.database_url)
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")
    finally:
        engine.dispose()
