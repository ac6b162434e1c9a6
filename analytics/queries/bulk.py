"""Building large Python results.

A report over every account creates tens of thousands of small objects next to a directory of a hundred
thousand more. Each allocation of a container counts towards CPython's cyclic garbage collector, which then
walks the whole heap again and again: for such a report the collector costs more than the work itself.
The objects built here hold no cycles, so pausing the collector while they are built loses nothing.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the body with the cyclic garbage collector off; leaves it as it was found."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
