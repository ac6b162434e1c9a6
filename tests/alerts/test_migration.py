"""The 0002 migration creates exactly the tables of `analytics.alerts.models.metadata`."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import create_engine

from analytics.alerts.models import metadata

MIGRATION = Path(__file__).resolve().parents[2] / "alembic" / "versions" / "0002_alert_rules_and_deliveries.py"


def test_migration_matches_models(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("migration_0002", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.begin() as connection:
        context = MigrationContext.configure(connection)
        with Operations.context(context):
            spec.loader.exec_module(module)
            module.upgrade()
        assert module.revision == "0002" and module.down_revision == "0001"
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []
    engine.dispose()
