"""The problems found in a posted body, collected so that a client can fix all of them in one round trip."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class EventValidationError(ValueError):
    """The body was rejected; ``errors`` lists every problem as ``{"index", "field", "message"}``.

    ``index`` is the position in the batch (0 for a single event) or None for the envelope.
    """

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(errors)} invalid field(s): " + "; ".join(_describe(e) for e in errors[:5]))
        self.errors = errors


def _describe(error: Mapping[str, Any]) -> str:
    where = "envelope" if error["index"] is None else f"event {error['index']}"
    return f"{where} {error['field']}: {error['message']}"


class Collector:
    def __init__(self) -> None:
        self.errors: list[dict[str, Any]] = []

    def add(self, index: int | None, field_name: str, message: str) -> None:
        self.errors.append({"index": index, "field": field_name, "message": message})
