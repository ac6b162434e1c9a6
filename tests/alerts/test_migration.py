"""The alert tables' migrations (0002, 0007, then 0011) create exactly the tables of
`analytics.alerts.models.metadata`."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import create_engine

from analytics.alerts.models import metadata

VERSIONS = Path(__file__).resolve().parents[2] / "alembic" / "versions"
MIGRATIONS = (("0002_alert_rules_and_deliveries.py", "0002", "0001"),
              ("0007_alert_rules_choose_what_they_report.py", "0007", "0006"),
              ("0011_slack_webhooks_and_email_digests.py", "0011", "0010"))


def test_migration_matches_models(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'm.db'}")
    with engine.begin() as connection:
        for name, revision, down_revision in MIGRATIONS:
            spec = importlib.util.spec_from_file_location(f"migration_{revision}", VERSIONS / name)
            assert spec is not None and spec.loader is not None
            module = importlib.util.module_from_spec(spec)
            context = MigrationContext.configure(connection)
            with Operations.context(context):
                spec.loader.exec_module(module)
                module.upgrade()
            assert module.revision == revision and module.down_revision == down_revision
        assert compare_metadata(MigrationContext.configure(connection), metadata) == []
    engine.dispose()
