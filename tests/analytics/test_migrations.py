"""The conventions of the ClickHouse migrations: numbered modules in order, views that feed their tables."""

from __future__ import annotations

import importlib
import pkgutil
import re
from types import ModuleType

import pytest

from analytics import migrations
from analytics.clickhouse import ClickHouse
from analytics.migrations import MIGRATIONS, MaterializedView

MODULE = re.compile(r"v(\d{3})_(\w+)")


def version_modules() -> list[ModuleType]:
    names = sorted(info.name for info in pkgutil.iter_modules(migrations.__path__) if MODULE.fullmatch(info.name))
    return [importlib.import_module(f"analytics.migrations.{name}") for name in names]


def views() -> list[MaterializedView]:
    return [value for module in version_modules() for value in vars(module).values()
            if isinstance(value, MaterializedView)]


def selected_names(select: str) -> list[str]:
    """The names of the columns a SELECT returns: each expression's alias, or the bare column it is."""
    match = re.search(r"SELECT\s(.*?)\sFROM\s", select, re.DOTALL)
    assert match is not None, select
    expressions, depth, current = [], 0, ""
    for char in match.group(1):
        depth += char in "(["
        depth -= char in ")]"
        if char == "," and depth == 0:
            expressions.append(current)
            current = ""
        else:
            current += char
    expressions.append(current)
    names = []
    for expression in (e.strip() for e in expressions):
        alias = re.search(r"\sAS\s+(\w+)$", expression)
        assert alias is not None or re.fullmatch(r"\w+", expression), f"unnamed column {expression!r}"
        names.append(alias.group(1) if alias else expression)
    return names


def test_versions_are_unique_and_contiguous_from_one() -> None:
    versions = [m.version for m in MIGRATIONS]
    assert versions == list(range(1, len(versions) + 1))


def test_each_version_is_a_module_named_after_it_and_registered() -> None:
    modules = version_modules()
    assert [module.MIGRATION for module in modules] == list(MIGRATIONS)
    for module in modules:
        match = MODULE.fullmatch(module.__name__.rsplit(".", 1)[1])
        assert match is not None
        assert (int(match.group(1)), match.group(2)) == (module.MIGRATION.version, module.MIGRATION.name)


def test_there_are_views_to_check() -> None:
    assert {view.name for view in views()} == {
        "daily_activity_mv", "account_activity_mv", "usage_events_mv", "account_windows_mv", "usage_changes_mv",
        "usage_accounts_mv",
    }


@pytest.mark.parametrize("view", views(), ids=lambda view: f"{view.name}-{view.target.name}")
def test_materialized_view_selects_exactly_the_target_table_columns(view: MaterializedView) -> None:
    assert selected_names(view.select) == [column.name for column in view.target.columns]
    assert view.ddl().startswith(f"CREATE MATERIALIZED VIEW IF NOT EXISTS {view.name} TO {view.target.name} AS")


def test_stored_block_types_are_those_of_the_events_table(clickhouse: ClickHouse) -> None:
    """The types the spool's Native columns are sent with are the `events` table's, as ClickHouse has them."""
    migrations.migrate(clickhouse)
    rows = clickhouse.execute(
        "SELECT name, type FROM system.columns WHERE database = currentDatabase() AND table = 'events'"
    )
    assert dict(rows) == dict(zip(migrations.EVENT_COLUMNS, migrations.EVENT_TYPES, strict=True))
