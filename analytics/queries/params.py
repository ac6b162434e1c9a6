"""Validation of query inputs; every failure is a `QueryError` naming the input."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from analytics.directory import AccountDirectory, AccountRef
from analytics.queries.errors import QueryError

MAX_RANGE_DAYS = 400


@dataclass(frozen=True, slots=True)
class DateRange:
    """Days `start` (included) to `end` (excluded), UTC."""

    start: date
    end: date

    def days(self) -> list[date]:
        return [self.start + timedelta(days=offset) for offset in range((self.end - self.start).days)]


def date_range(start: date, end: date) -> DateRange:
    if isinstance(start, datetime) or not isinstance(start, date):
        raise QueryError("start", "must be a date")
    if isinstance(end, datetime) or not isinstance(end, date):
        raise QueryError("end", "must be a date")
    if start > end:
        raise QueryError("start", "must not be after end")
    if (end - start).days > MAX_RANGE_DAYS:
        raise QueryError("end", f"range must not exceed {MAX_RANGE_DAYS} days")
    return DateRange(start, end)


def threshold(field: str, value: int, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise QueryError(field, "must be an integer")
    if value < minimum:
        raise QueryError(field, f"must be at least {minimum}")
    return value


def today(now: datetime) -> date:
    """The UTC day of `now`; a naive `now` is taken as UTC."""
    if now.tzinfo is None:
        return now.date()
    return now.astimezone(UTC).date()


def organization(directory: AccountDirectory, value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or not directory.organization_exists(value):
        raise QueryError("organization", "unknown organization")
    return value


def created_day(ref: AccountRef) -> date:
    return today(ref.created_at)
