"""Every benchmark script imports (its imports still resolve) and runs nothing until called as a script."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def bench_path() -> Iterator[None]:
    """bench/ first on sys.path, as when a script runs (the scripts import their sibling ``common``)."""
    before = list(sys.path)
    sys.path.insert(0, str(BENCH))
    try:
        yield
    finally:
        sys.path[:] = before
        sys.modules.pop("common", None)


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


@pytest.mark.parametrize("path", sorted(BENCH.glob("*.py")), ids=lambda p: p.name)
def test_bench_module_imports_without_running(path: Path, bench_path: None) -> None:
    module = load(path)
    assert module.__name__ == f"bench_{path.stem}"
    assert path.stem == "common" or callable(getattr(module, "main", None)), "a script has a main()"


def test_the_machine_report_carries_the_signature_calibration(bench_path: None) -> None:
    common = load(BENCH / "common.py")
    plain = common.machine()
    assert "signature_cpu_ms" not in plain and plain["nproc"] >= 1
    family, _, model = plain["cpu_family_model"].partition("/")
    assert family and model
    costs = common.machine(calibrate=True)["signature_cpu_ms"]
    assert set(costs) == {"RS256", "ES256"}
    assert 0 < costs["ES256"] < costs["RS256"]  # an RSA-2048 private-key operation costs several ECDSA ones
