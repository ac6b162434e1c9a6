"""What analytics tells whoever watches it: counts of things that happened, by name and one label.

Analytics imports no metrics library: the provider registers a sink (``watch``) that turns these counts into
its metrics. Without one, ``count`` costs a check of an empty list.

Names: ``clickhouse_errors`` (a statement or insert failed, or ClickHouse could not be reached),
``writer_failed_inserts`` (the spool's writer could not insert a chunk), ``alert_deliveries`` labelled with the
outcome of an attempt (``delivered``, ``retrying``, ``failed``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

Sink = Callable[[str, str, float], None]
_sinks: list[Sink] = []


def watch(sink: Sink) -> None:
    """Send every later count to ``sink(name, label, amount)`` (once per sink, however often it is given)."""
    if sink not in _sinks:
        _sinks.append(sink)


def count(name: str, label: str = "", amount: float = 1.0) -> None:
    for sink in _sinks:
        try:
            sink(name, label, amount)
        except Exception:  # a watcher's failure must not fail what it watches
            log.exception("metrics sink failed on %s", name)
