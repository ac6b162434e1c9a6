"""The event client: ``track()`` queues a usage event in memory; a background thread posts batches to Canary.

``track`` never blocks and never does I/O: it appends to a bounded queue, and when the queue is full the event
is dropped and counted (``stats().dropped``). The sender posts to ``POST /v1/events`` at most ``batch_size``
events at a time, at least every ``interval`` seconds, with the resource server's own client_credentials token
(scope ``events:write``). A batch that fails on the network, or with 429, 503 or another 5xx, is sent again —
the same events with the same ``event_id``s, so Canary counts each once — after a back-off that honours
``Retry-After``. Events that Canary refuses, and names (400: invalid; 403: not this client's to post, such as
an account outside its organization), are dropped and counted as rejected; the rest of their batch is sent.
``close()`` (registered with ``atexit``; the ASGI middleware calls it at lifespan shutdown) sends what is
queued, retrying until its timeout; ``open()`` takes events again after it.
"""

from __future__ import annotations

import atexit
import collections
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from canary_resource.backoff import backoff, retry_after
from canary_resource.connections import Connections
from canary_resource.credentials import ClientCredentials
from canary_resource.discovery import Discovery
from canary_resource.errors import CanaryError

_orjson_dumps: Callable[[Any], bytes] | None
try:  # the ``fast`` extra: a batch of 1,000 events in 0.15 ms instead of 2.7 ms
    from orjson import dumps as _orjson_dumps
except ImportError:  # pragma: no cover - depends on the installation
    _orjson_dumps = None

log = logging.getLogger("canary_resource")

SCOPE = "events:write"
MAX_BATCH = 1000  # Canary's limit per request
CLOSE_GRACE = 0.2  # how long close() waits past its deadline for the sender to notice it


@dataclass(frozen=True, slots=True)
class Stats:
    queued: int
    """Waiting in memory, including a batch being sent."""
    sent: int
    """Accepted by Canary (202)."""
    dropped: int
    """Refused by ``track`` because the queue was full."""
    rejected: int
    """Refused by Canary as invalid or not allowed for this client; not retried."""
    retries: int
    """Posts sent again after a network error, 401, 429 or 5xx."""
    lost: int
    """Not sent when ``close()``'s timeout passed: still queued, or posted without an answer in time."""


# One queued event: (account, name, properties, organization, timestamp).
Queued = tuple[str, str, Mapping[str, Any] | None, str | None, float]


class EventClient:
    def __init__(
        self, issuer: str, client_id: str, client_secret: str, *, max_queue: int = 100_000,
        batch_size: int = MAX_BATCH, interval: float = 1.0, timeout: float = 10.0, max_backoff: float = 30.0,
        endpoint: str | None = None, http: httpx.Client | None = None, clock: Callable[[], float] = time.time,
        register_atexit: bool = True,
    ) -> None:
        """``endpoint``: where to post instead of the issuer's ``/v1/events`` (a gateway in front of Canary).
        ``http``: a client of yours to call Canary with (it is not closed by ``close()``)."""
        if not 1 <= batch_size <= MAX_BATCH:
            raise ValueError(f"batch_size must be 1 to {MAX_BATCH}")
        self.http = Connections(http, timeout=timeout)
        self.timeout = timeout
        # No retry interval of its own: the sender backs off between its attempts.
        self.discovery = Discovery(issuer, self.http)
        self.credentials = ClientCredentials(self.discovery, self.http, client_id, client_secret, SCOPE, clock)
        self.max_queue = max_queue
        self.batch_size = batch_size
        self.interval = interval
        self.max_backoff = max_backoff
        self.endpoint = endpoint
        self.clock = clock
        self._queue: collections.deque[Queued] = collections.deque()
        self._in_flight = 0
        self._sent = self._dropped = self._rejected = self._retries = self._lost = 0
        self._wake = threading.Event()
        self._idle = threading.Condition()
        self._closing = False
        self._flushing = 0
        self._deadline: float | None = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._atexit = register_atexit
        if register_atexit:
            atexit.register(self.close)

    # --- the caller's side ----------------------------------------------------------------------------------
    def track(self, account: str, name: str, properties: Mapping[str, Any] | None = None, *,
              organization: str | None = None, timestamp: float | None = None) -> bool:
        """Queues one event about ``account``; False when it was dropped (queue full, or client closed)."""
        if self._closing or len(self._queue) >= self.max_queue:
            self._dropped += 1
            return False
        self._queue.append((account, name, properties, organization, timestamp or self.clock()))
        if self._thread is None:
            self._start()
        elif len(self._queue) >= self.batch_size:
            self._wake.set()
        return True

    def stats(self) -> Stats:
        return Stats(queued=len(self._queue) + self._in_flight, sent=self._sent, dropped=self._dropped,
                     rejected=self._rejected, retries=self._retries, lost=self._lost)

    def flush(self, timeout: float = 10.0) -> bool:
        """Waits until everything queued so far is sent (or refused); False if ``timeout`` passed first."""
        if self._thread is None:
            return not self._queue
        deadline = time.monotonic() + timeout
        self._flushing += 1
        try:
            self._wake.set()
            with self._idle:
                while self._queue or self._in_flight:
                    left = deadline - time.monotonic()
                    if left <= 0 or not self._thread.is_alive():
                        return False
                    self._idle.wait(min(left, 0.05))
                    self._wake.set()
        finally:
            self._flushing -= 1
        return True

    def close(self, timeout: float = 10.0) -> None:
        """Sends what is queued, retrying for up to ``timeout`` seconds, then stops; later events are dropped
        (until ``open()``). What is not sent by then is counted as lost.

        A post that was under way before ``close()`` keeps the client's own timeout; when it outlasts
        ``timeout``, ``close()`` returns and the sender counts its events (sent or lost) and closes the
        connections when it ends. Posts made while closing end at the deadline."""
        with self._start_lock:
            if self._closing:
                return
            self._deadline = time.monotonic() + timeout
            self._closing = True
            thread = self._thread
            if thread is None or not thread.is_alive():
                self._thread = None
                self._finish_closing()
        if self._atexit:
            atexit.unregister(self.close)
        if thread is not None:
            self._wake.set()
            thread.join(max(0.0, self._deadline - time.monotonic()) + CLOSE_GRACE)

    def open(self) -> None:
        """Takes events again after ``close()``: an ASGI app started again in the same process (its lifespan
        startup calls this). The sender and the connections to Canary start with the next event."""
        with self._start_lock:
            if not self._closing:
                return
            self._closing = False
            self._deadline = None
        if self._atexit:
            atexit.register(self.close)

    def _finish_closing(self) -> None:
        """What is still queued is lost; the connections close. Called with ``_start_lock`` held, once the
        sender has stopped (or by the sender as it stops)."""
        self._lost += len(self._queue)
        self._queue.clear()
        self.http.close()

    # --- the sender thread --------------------------------------------------------------------------------
    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="canary-events", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            if not self._closing and not (self._flushing and self._queue):
                self._wake.wait(self.interval)
                self._wake.clear()
            # What is queued now goes out; what arrives meanwhile waits for the next interval unless it fills a
            # batch (or a flush or close asks for everything): at a steady rate that is one post per interval.
            due = len(self._queue)
            try:
                while self._queue and not self._expired():
                    if due <= 0 and len(self._queue) < self.batch_size and not (self._closing or self._flushing):
                        break
                    due -= self._send_next()
            except Exception:  # a bug must not stop the sender: what it held is lost, the rest still goes out
                log.exception("canary events: the sender failed")
                self._sleep(backoff(5, cap=self.max_backoff))
            with self._idle:
                self._idle.notify_all()
            if self._closing and (not self._queue or self._expired()) and self._stop():
                return

    def _stop(self) -> bool:
        """The sender's end when closing; False when ``open()`` came first (the sender goes on)."""
        with self._start_lock:
            if not self._closing:
                return False
            self._thread = None
            self._finish_closing()
            return True

    def _expired(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    def _send_next(self) -> int:
        take = min(self.batch_size, len(self._queue))
        self._in_flight = take
        events: list[dict[str, Any]] = []
        for event_id in event_ids(take):
            account, name, properties, organization, ts = self._queue.popleft()
            event: dict[str, Any] = {"event_id": event_id, "account": account, "name": name, "timestamp": ts}
            if organization is not None:
                event["organization"] = organization
            if properties:
                event["properties"] = properties if type(properties) is dict else dict(properties)
            events.append(event)
        try:
            self._deliver(events)
        except Exception:
            self._lost += self._in_flight
            raise
        finally:
            self._in_flight = 0
        return take

    def _deliver(self, events: list[dict[str, Any]]) -> None:
        """Posts ``events`` until Canary accepts or refuses them, or ``close()``'s deadline passes."""
        attempt = 0
        retry = False
        pending = [events]
        while pending:
            if self._expired():
                self._lost += sum(map(len, pending))
                return
            if retry:
                self._retries += 1
                retry = False
            batch = pending[-1]
            outcome = self._post(batch)
            if outcome is _DONE:
                pending.pop()
                attempt = 0
            elif isinstance(outcome, list):  # 413: the batch is sent in halves instead
                pending.pop()
                pending.extend(outcome)
            elif outcome is not _RESEND:
                # A retry: the same events with the same event_ids, so Canary counts each once.
                delay = outcome if isinstance(outcome, float) else backoff(attempt, cap=self.max_backoff)
                attempt += 1
                if self._deadline is not None:
                    left = self._deadline - time.monotonic()
                    if left <= 0:
                        self._lost += sum(map(len, pending))
                        return
                    delay = min(delay, left)
                retry = True
                self._sleep(delay)

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.05))
            if self._deadline is not None and time.monotonic() >= self._deadline:
                return

    def _post(self, batch: list[dict[str, Any]]) -> object:
        """_DONE, _RESEND (the batch was trimmed of refused events), halves of the batch to send instead, or
        a retry: the delay Canary asked for (float) or _BACKOFF."""
        now = self.clock()
        for event in batch:
            event["sent_at"] = now
        try:
            content = encode({"batch": batch})
        except (TypeError, ValueError):
            return self._unencodable(batch)
        try:
            token = self.credentials.token()
            endpoint = self.endpoint or self.discovery.get().events_endpoint
            timeout = self.timeout
            if self._deadline is not None:  # closing: the post ends by close()'s deadline
                timeout = max(0.01, min(timeout, self._deadline - time.monotonic()))
            response = self.http.post(endpoint, content=content, timeout=timeout,
                                      headers={"Authorization": f"Bearer {token}",
                                               "Content-Type": "application/json"})
        except (httpx.HTTPError, CanaryError) as exc:
            log.warning("canary events: %s; retrying", exc)
            return _BACKOFF
        status = response.status_code
        if status == 202:
            self._sent += len(batch)
            self._in_flight = max(0, self._in_flight - len(batch))
            return _DONE
        if status == 401:  # expired or revoked: a new token, then again
            self.credentials.forget()
            return _BACKOFF
        if status == 413 and len(batch) > 1:
            return [batch[len(batch) // 2:], batch[: len(batch) // 2]]
        if status == 429 or status >= 500:
            return retry_after(response.headers.get("Retry-After")) or _BACKOFF
        return self._refused(batch, response)

    def _unencodable(self, batch: list[dict[str, Any]]) -> object:
        """Events whose properties are not JSON (a datetime, an object) are dropped as rejected."""
        kept = []
        for event in batch:
            try:
                encode(event)
                kept.append(event)
            except (TypeError, ValueError) as exc:
                log.error("canary events: %r dropped, its properties are not JSON: %s", event["name"], exc)
        self._rejected += len(batch) - len(kept)
        self._in_flight = max(0, self._in_flight - (len(batch) - len(kept)))
        batch[:] = kept
        return _RESEND if kept else _DONE

    def _refused(self, batch: list[dict[str, Any]], response: httpx.Response) -> object:
        """A 400 (invalid events) or 403 (events this client may not post, such as about an account outside its
        organization) lists the events refused in ``errors``: they are dropped and the others sent again. A
        refusal that lists none (a 403 for the token itself: no events:write) drops the whole batch."""
        bad: set[int] = set()
        if response.status_code in (400, 403):
            try:
                errors = response.json().get("errors")
                if isinstance(errors, list):
                    bad = {int(e["index"]) for e in errors if e.get("index") is not None}
            except (ValueError, TypeError, KeyError, AttributeError):
                bad = set()
            bad &= set(range(len(batch)))  # indexes outside the batch name nothing: the batch is refused
        kept = [e for i, e in enumerate(batch) if i not in bad] if bad else []
        refused = len(batch) - len(kept)
        self._rejected += refused
        self._in_flight = max(0, self._in_flight - refused)
        log.error("canary events: %d events refused (%s): %s", refused, response.status_code, response.text[:500])
        if kept:
            batch[:] = kept
            return _RESEND
        return _DONE


_DONE, _RESEND, _BACKOFF = object(), object(), object()


def event_ids(count: int) -> list[str]:
    """``count`` random (version 4) UUIDs as text, from one read of the system's random source."""
    digits = os.urandom(16 * count).hex()
    ids = []
    for i in range(0, 32 * count, 32):
        h = digits[i:i + 32]
        ids.append(f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}")
    return ids


def encode(body: dict[str, Any]) -> bytes:
    if _orjson_dumps is not None:
        return _orjson_dumps(body)
    return json.dumps(body, separators=(",", ":")).encode()
