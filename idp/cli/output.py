"""How the commands print: JSON of query results, and plain-text tables."""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any


def jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: jsonable(v) for k, v in dataclasses.asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[("" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()
    body = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    return "\n".join([line, *body]) if body else line + "\n(none)"


def record(values: dict[str, Any]) -> str:
    """One object as a two-column table of its fields."""
    return table(["field", "value"], [(k.replace("_", " "), _cell(v)) for k, v in values.items()])


def _cell(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return value


def print_record(values: dict[str, Any], as_json: bool) -> None:
    print(json.dumps(jsonable(values), indent=2) if as_json else record(jsonable(values)))


def print_rows(rows: list[dict[str, Any]], columns: Sequence[tuple[str, str]], as_json: bool) -> None:
    """``rows`` as JSON, or a table of ``columns`` (header, key)."""
    if as_json:
        print(json.dumps(jsonable(rows), indent=2))
    else:
        print(table([h for h, _ in columns], [[_cell(r.get(k)) for _, k in columns] for r in rows]))


def json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON (for scripts) instead of a table")
