"""A resource server posting usage events to a live Canary without pause, in a thread, keeping the ids of every
event acknowledged (202) apart from those of requests that got another answer or none."""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

EVENT_NAME = "cluster.fault"


@dataclass
class Posted:
    """What the poster sent, by outcome. ``acknowledged`` holds (monotonic time of the answer, event ids)."""

    acknowledged: list[tuple[float, list[str]]] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # status, body
    unanswered: list[list[str]] = field(default_factory=list)  # the request failed without an answer

    def acknowledged_ids(self, since: float = 0.0, until: float = float("inf")) -> set[str]:
        return {i for at, ids in self.acknowledged if since <= at < until for i in ids}


class Poster:
    """Posts ``{"batch": [...]}`` of ``batch`` events, round robin over ``accounts``, until stopped."""

    def __init__(self, url: str, token: str, accounts: list[str], *, batch: int = 20, timeout: float = 20.0) -> None:
        self.url = f"{url}/v1/events"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.accounts = itertools.cycle(accounts)
        self.batch = batch
        self.timeout = timeout
        self.posted = Posted()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="event-poster", daemon=True)

    def __enter__(self) -> Poster:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> Posted:
        self._stop.set()
        self._thread.join(self.timeout + 5)
        assert not self._thread.is_alive(), "the poster did not stop"
        return self.posted

    @property
    def acknowledged(self) -> int:
        """Events acknowledged so far."""
        with self._lock:
            return sum(len(ids) for _, ids in self.posted.acknowledged)

    def acknowledged_ids(self, since: float = 0.0) -> set[str]:
        """The ids of events acknowledged at or after ``since`` (time.monotonic()), so far."""
        with self._lock:
            return self.posted.acknowledged_ids(since)

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
        """Wait until ``condition()`` holds while posting goes on; fails the test after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {timeout} s: {what} ({self.summary()})")
            if not self._thread.is_alive():
                raise AssertionError(f"the poster stopped: {self.summary()}")
            time.sleep(0.05)

    def wait_acknowledged(self, more: int, timeout: float = 30.0) -> None:
        """Wait until ``more`` further events are acknowledged."""
        target = self.acknowledged + more
        self.wait_for(lambda: self.acknowledged >= target, f"{more} more events acknowledged", timeout)

    def summary(self) -> str:
        with self._lock:
            p = self.posted
            return (f"{sum(len(ids) for _, ids in p.acknowledged)} events acknowledged, {len(p.refused)} requests "
                    f"refused {p.refused[:3]}, {len(p.unanswered)} unanswered")

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout) as http:
            while not self._stop.is_set():
                ids = [str(uuid.uuid4()) for _ in range(self.batch)]
                body = {"batch": [{"event_id": i, "account": next(self.accounts), "name": EVENT_NAME} for i in ids]}
                try:
                    response = http.post(self.url, json=body, headers=self.headers)
                except httpx.HTTPError:
                    with self._lock:
                        self.posted.unanswered.append(ids)
                    continue
                with self._lock:
                    if response.status_code == 202:
                        self.posted.acknowledged.append((time.monotonic(), ids))
                    else:
                        self.posted.refused.append((response.status_code, response.text[:200]))
