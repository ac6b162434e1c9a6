"""Events handed over without waiting: batching, drain, close and failures."""

from __future__ import annotations

import threading
import time

import pytest

from analytics.ingest.model import Event
from analytics.pending import PendingEvents


def event(n: int) -> Event:
    return Event.for_idp("token.issued", f"user-{n}")


class Sink:
    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.batches: list[list[Event]] = []
        self.delay = delay
        self.fail = fail
        self.lock = threading.Lock()

    def __call__(self, events: list[Event]) -> None:
        time.sleep(self.delay)
        if self.fail:
            raise OSError("disk full")
        with self.lock:
            self.batches.append(list(events))

    @property
    def accounts(self) -> list[str]:
        return [e.account for batch in self.batches for e in batch]


def test_put_reaches_the_sink_without_a_drain() -> None:
    sink = Sink()
    pending = PendingEvents(sink)
    pending.put(event(1))
    deadline = time.monotonic() + 5
    while not sink.batches and time.monotonic() < deadline:
        time.sleep(0.005)
    assert sink.accounts == ["user-1"]
    pending.close()


def test_a_burst_is_sunk_in_few_batches_and_drain_covers_everything_put_before() -> None:
    sink = Sink(delay=0.01)
    pending = PendingEvents(sink)
    threads = [threading.Thread(target=lambda k=k: [pending.put(event(k * 100 + i)) for i in range(50)])
               for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pending.drain()
    assert sorted(sink.accounts) == sorted(f"user-{k * 100 + i}" for k in range(8) for i in range(50))
    assert len(sink.batches) < 400  # grouped, not one sink call per event
    pending.close()


def test_close_sinks_what_is_left_and_refuses_more() -> None:
    sink = Sink()
    pending = PendingEvents(sink, linger=0.5)
    for n in range(3):
        pending.put(event(n))
    pending.close()
    assert sorted(sink.accounts) == ["user-0", "user-1", "user-2"]
    with pytest.raises(RuntimeError):
        pending.put(event(9))


def test_a_failing_sink_reports_the_lost_events_and_keeps_going() -> None:
    sink = Sink(fail=True)
    lost: list[Event] = []
    pending = PendingEvents(sink, on_error=lambda events, exc: lost.extend(events))
    pending.put(event(1))
    pending.drain()
    sink.fail = False
    pending.put(event(2))
    pending.drain()
    assert [e.account for e in lost] == ["user-1"] and sink.accounts == ["user-2"]
    pending.close()
