"""Errors raised by activity queries; `field` names the offending input."""

from __future__ import annotations


class QueryError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
