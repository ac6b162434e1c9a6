"""Schema migrations: Alembic for the accounts database, analytics' own versions for ClickHouse."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import command
from alembic.config import Config

from idp.db import make_engine
from idp.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(url: str) -> Config:
    directory = Path(os.environ.get("CANARY_MIGRATIONS", ROOT / "alembic"))
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
