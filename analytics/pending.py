"""Events handed over without waiting for the spool: the provider's own events, recorded on its hot paths.

A sign-in or a token response should not wait for an fsync of the spool. ``PendingEvents.put`` only appends to
memory; a thread moves what has gathered into the spool in one append (one fsync for many events), ``linger``
(20 ms) later. ``drain`` does the same at once, in the caller's thread: ``Analytics.flush`` and ``close`` call
it, so a flush covers every event put before it.

The trade-off, stated: events put in the last ``linger`` before a ``kill -9`` are lost. This applies to
the provider's own ``signin.*``, ``token.*`` and ``signout`` events only; events posted to ``/v1/events`` are
acknowledged after the spool's fsync, never before.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from analytics.ingest.model import Event

log = logging.getLogger(__name__)


class PendingEvents:
    def __init__(self, sink: Callable[[list[Event]], object], *, linger: float = 0.02,
                 on_error: Callable[[list[Event], Exception], None] | None = None) -> None:
        self._sink = sink
        self._linger = linger
        self._on_error = on_error
        self._items: list[Event] = []
        self._ready = threading.Condition()
        self._sinking = threading.Lock()  # one batch at a time, so a drain sees everything put before it
        self._thread: threading.Thread | None = None
        self._closed = False
        self._idle = False  # the thread waits for the first event of the next batch

    def put(self, event: Event) -> None:
        with self._ready:
            if self._closed:
                raise RuntimeError("pending events are closed")
            self._items.append(event)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="canary-pending-events", daemon=True)
                self._thread.start()
            if self._idle:  # wake it once per batch, not once per event
                self._idle = False
                self._ready.notify()

    def drain(self) -> None:
        with self._sinking:
            self._sink_batch(self._take())

    def close(self) -> None:
        with self._ready:
            self._closed = True
            self._ready.notify()
            thread = self._thread
        if thread is not None:
            thread.join()
        self.drain()

    def __len__(self) -> int:
        with self._ready:
            return len(self._items)

    def _take(self) -> list[Event]:
        with self._ready:
            items, self._items = self._items, []
        return items

    def _sink_batch(self, items: list[Event]) -> None:
        if not items:
            return
        try:
            self._sink(items)
        except Exception as exc:  # the events are lost; whatever produced them goes on
            if self._on_error is not None:
                self._on_error(items, exc)
            else:
                log.exception("%d pending events dropped", len(items))

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._items and not self._closed:
                    self._idle = True
                    self._ready.wait()
                self._idle = False
                if self._closed:
                    return
            if self._linger:
                # Let a burst gather so that one fsync covers it.
                time.sleep(self._linger)
            with self._sinking:
                self._sink_batch(self._take())
