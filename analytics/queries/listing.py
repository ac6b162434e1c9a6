"""A report's accounts in order, their details read from the directory only as items are taken: a page of a
report over every account reads the details of that page alone."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator, Sequence
from typing import TypeVar, overload

T = TypeVar("T")

ITERATION_CHUNK = 1000


class LazyAccounts(Sequence[T]):
    """The accounts of ``order`` (subs); ``_build`` turns subs into items, leaving out those no longer in the
    directory."""

    def __init__(self, order: list[str]) -> None:
        self._order = order

    @abstractmethod
    def _build(self, subs: list[str]) -> list[T]: ...

    def __len__(self) -> int:
        return len(self._order)

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        if isinstance(index, slice):
            return self._build(self._order[index])
        found = self._build([self._order[index]])
        if not found:
            raise LookupError(f"account {self._order[index]!r} is no longer in the directory")
        return found[0]

    def __iter__(self) -> Iterator[T]:
        for start in range(0, len(self._order), ITERATION_CHUNK):
            yield from self._build(self._order[start:start + ITERATION_CHUNK])

    def subs(self) -> list[str]:
        """The subs, in order, without reading any details."""
        return list(self._order)
