"""The provider's Prometheus metrics (prometheus-client), served at ``/metrics`` (``idp.web.operations``).

Under ``canary serve --workers N`` every worker writes its samples to files under ``PROMETHEUS_MULTIPROC_DIR``
(the data directory's ``metrics/``, emptied by ``canary serve`` before the workers start), and a scrape, answered
by any one worker, adds up the counters and histograms of all of them. The gauges (the spool's, which every
worker shares) are set by the worker answering the scrape and read as the most recent value. prometheus-client
reads that variable when it is first imported, so ``canary serve`` sets it before anything imports this module.

On the hot paths (the token and events endpoints) a sample costs a dict look-up for the labelled child and its
``inc``: ``labels()`` itself, with its argument checks and lock, is called once per label set. Every request is
counted and timed, which with prometheus-client's own calls took four locked increments (count, sum, bucket and
the request counter): ``HttpTally`` keeps them in plain dicts on the event loop and adds them to the metrics
each second and before a scrape, through the histogram's bucket values (the one place this module touches
prometheus-client's internals; ``internals_missing`` says what a new version lacks, and a test calls it).
"""

from __future__ import annotations

import bisect
import os
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

from analytics.api import watch

if TYPE_CHECKING:
    from analytics.api import Condition

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
disable_created_metrics()  # type: ignore[no-untyped-call]  # a *_created series beside every counter only doubles what is scraped
CONTENT_TYPE = CONTENT_TYPE_LATEST

HTTP_REQUESTS = Counter("canary_http_requests", "HTTP requests answered, by method, route template and status.",
                        ["method", "route", "status"])
SECONDS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
HTTP_SECONDS = Histogram("canary_http_request_duration_seconds", "Time to answer an HTTP request, by method and "
                         "route template.", ["method", "route"], buckets=SECONDS_BUCKETS)
TOKENS = Counter("canary_tokens_issued", "Tokens issued at /token, by grant type.", ["grant_type"])
SIGNINS = Counter("canary_signins", "Password sign-ins, by outcome: succeeded, or why one failed (bad_password, "
                  "unknown_user, locked, disabled).", ["outcome"])
EVENTS_ACCEPTED = Counter("canary_events_accepted", "Usage events accepted at /v1/events (spooled).")
EVENTS_REFUSED = Counter("canary_event_posts_refused", "Requests to /v1/events refused, by reason.", ["reason"])
SPOOL_EVENTS = Gauge("canary_spool_events", "Events spooled locally, not yet in ClickHouse.",
                     multiprocess_mode="mostrecent")
SPOOL_BYTES = Gauge("canary_spool_bytes", "Bytes of events spooled locally, not yet in ClickHouse.",
                    multiprocess_mode="mostrecent")
SPOOL_MAX_BYTES = Gauge("canary_spool_max_bytes", "CANARY_SPOOL_MAX_BYTES: beyond it ingest answers 503.",
                        multiprocess_mode="mostrecent")
WRITER_LAG = Gauge("canary_writer_lag_seconds", "0 with an empty spool, else seconds since the writer last "
                   "drained it without an error.", multiprocess_mode="mostrecent")
WRITER_FAILED = Counter("canary_writer_failed_inserts", "Inserts of spooled events into ClickHouse that failed "
                        "(each is retried).")
CLICKHOUSE_ERRORS = Counter("canary_clickhouse_errors", "ClickHouse statements or inserts that failed, or could "
                            "not reach it.")
ALERT_DELIVERIES = Counter("canary_alert_deliveries", "Alert notification attempts (webhook or e-mail), by "
                           "outcome: delivered, retrying, failed.", ["outcome"])

_children: dict[tuple[Any, str], Any] = {}
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


def _child(metric: Any, label: str) -> Any:
    child = _children.get((metric, label))
    if child is None:
        child = _children[(metric, label)] = metric.labels(label)
    return child


class HttpTally:
    """Requests counted and timed in plain dicts, added to HTTP_REQUESTS and HTTP_SECONDS by ``flush``. Used
    from the event loop's thread only (``idp.web.instrumented``), so nothing here needs a lock."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str, int], int] = {}
        # per (method, route): how many fell in each bucket (the last one +Inf), then the sum of the seconds
        self.times: dict[tuple[str, str], list[float]] = {}

    def add(self, method: str, route: str, status: int, seconds: float) -> None:
        if method not in _METHODS:
            method = "other"
        key = (method, route, status)
        counts = self.counts
        counts[key] = counts.get(key, 0) + 1
        times = self.times.get((method, route))
        if times is None:
            times = self.times[(method, route)] = [0.0] * (len(SECONDS_BUCKETS) + 2)
        times[bisect.bisect_left(SECONDS_BUCKETS, seconds)] += 1  # the first bucket whose bound is >= seconds
        times[-1] += seconds

    def flush(self) -> None:
        counts, self.counts = self.counts, {}
        times, self.times = self.times, {}
        for (method, route, status), n in counts.items():
            HTTP_REQUESTS.labels(method, route, str(status)).inc(n)
        for (method, route), observed in times.items():
            child = HTTP_SECONDS.labels(method, route)
            for bucket, observations in zip(child._buckets, observed[:-1], strict=True):
                if observations:
                    bucket.inc(observations)
            child._sum.inc(observed[-1])


def internals_missing() -> list[str]:
    """What ``HttpTally.flush`` needs of prometheus-client's histogram and this version lacks."""
    child = Histogram("canary_internals_probe", "a probe, never registered", buckets=SECONDS_BUCKETS, registry=None)
    missing = []
    buckets = getattr(child, "_buckets", None)
    if not isinstance(buckets, list) or len(buckets) != len(SECONDS_BUCKETS) + 1:
        missing.append("Histogram._buckets: one value per bucket, +Inf last")
    elif not all(hasattr(b, "inc") and hasattr(b, "get") for b in buckets):
        missing.append("Histogram._buckets values with inc() and get()")
    if not hasattr(getattr(child, "_sum", None), "inc"):
        missing.append("Histogram._sum with inc()")
    return missing


HTTP = HttpTally()


def token_issued(grant_type: str) -> None:
    _child(TOKENS, grant_type).inc()


def sign_in(outcome: str) -> None:
    _child(SIGNINS, outcome).inc()


def events_accepted(count: int) -> None:
    EVENTS_ACCEPTED.inc(count)


def event_post_refused(reason: str) -> None:
    _child(EVENTS_REFUSED, reason).inc()


def from_analytics(name: str, label: str, amount: float) -> None:
    """The sink analytics reports to (``analytics.api.watch``)."""
    if name == "clickhouse_errors":
        CLICKHOUSE_ERRORS.inc(amount)
    elif name == "writer_failed_inserts":
        WRITER_FAILED.inc(amount)
    elif name == "alert_deliveries":
        _child(ALERT_DELIVERIES, label).inc(amount)


def exposition(condition: Condition | None) -> bytes:
    """The text format of every metric, with the spool's gauges as they are now."""
    HTTP.flush()
    if condition is not None:
        SPOOL_EVENTS.set(condition.spool_rows)
        SPOOL_BYTES.set(condition.spool_bytes)
        SPOOL_MAX_BYTES.set(condition.spool_max_bytes)
        WRITER_LAG.set(condition.writer_lag_seconds)
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


watch(from_analytics)
