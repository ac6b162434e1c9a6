"""The design's rules, checked: dependency direction, migrations that match the models, and tests that share
fixtures through conftest.py and helpers through tests/support (never by importing another test module)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

ROOT = Path(__file__).resolve().parents[2]
def modules(package: str) -> list[tuple[str, Path]]:
    base = ROOT / package
    return [(".".join(p.relative_to(ROOT).with_suffix("").parts), p) for p in sorted(base.rglob("*.py"))]


def test_the_import_contracts_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dependency rules (analytics never imports idp; idp uses only analytics' public modules; the provider's
    layers point one way) are import-linter contracts in pyproject.toml, which CI also runs as `lint-imports`."""
    from importlinter.cli import lint_imports

    monkeypatch.chdir(ROOT)
    assert lint_imports(no_cache=True, no_logo=True) == 0, "an import contract is broken: run lint-imports"


def test_only_the_seam_imports_authlib_server_classes() -> None:
    for name, path in modules("idp"):
        if name.startswith("idp.web"):
            assert not {m for m in imported_names(path) if m.startswith("authlib")}, name


def test_migrations_have_unique_numbers_and_match_the_models(tmp_path: Path) -> None:
    from analytics.alerts.models import metadata as alerts_metadata
    from idp.db import Base
    from idp.migrate import migrate_sql
    from idp.settings import Settings

    revisions = [p.name.split("_")[0] for p in (ROOT / "alembic" / "versions").glob("*.py")]
    assert len(revisions) == len(set(revisions))
    settings = Settings(data_dir=tmp_path)
    migrate_sql(settings)
    engine = create_engine(settings.database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": False})
        diffs = compare_metadata(context, [Base.metadata, alerts_metadata])  # type: ignore[arg-type]
    engine.dispose()
    assert diffs == []


def test_documented_configuration_table_is_the_settings_list() -> None:
    """Every CANARY_* option, its default and meaning, as `canary config` prints them."""
    from idp.settings import options_table

    page = (ROOT / "docs" / "configuration.md").read_text()
    assert options_table() in page, "docs/configuration.md's table is stale: paste `canary config` into it"


def imported_names(path: Path) -> set[str]:
    """Every dotted name an import statement of ``path`` may refer to (``from a import b`` gives a and a.b)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def cross_test_imports(name: str, path: Path) -> set[str]:
    """What a file under tests/ imports that it must not: a test module, or the conftest of a package that
    is not its own or one of its parents (pytest already gives it those fixtures)."""
    package = name.rsplit(".", 1)[0]
    bad = set()
    for imported in imported_names(path):
        parts = imported.split(".")
        if parts[0] != "tests":
            continue
        if parts[-1].startswith("test_"):
            bad.add(imported)
        elif parts[-1] == "conftest":
            owner = ".".join(parts[:-1])
            if package != owner and not package.startswith(owner + "."):
                bad.add(imported)
    return bad


def test_tests_share_fixtures_through_conftest_not_by_importing_each_other() -> None:
    found = {name: sorted(bad) for name, path in modules("tests") if (bad := cross_test_imports(name, path))}
    assert found == {}


def test_the_cross_import_check_catches_what_it_should(tmp_path: Path) -> None:
    module = tmp_path / "test_probe.py"
    module.write_text(
        "from tests.functional.test_authorize import exchange\n"
        "from tests.analytics import conftest\n"
        "from tests.analytics.conftest import make_event\n"
        "from tests.functional.conftest import Provider\n"
        "from tests.support.tokens import decode\n"
    )
    assert cross_test_imports("tests.functional.admin.test_probe", module) == {
        "tests.functional.test_authorize", "tests.analytics.conftest",
    }
