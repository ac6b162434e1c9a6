"""The provider's Prometheus metrics (prometheus-client), served at ``/metrics`` (``idp.web.operations``).

Under ``canary serve --workers N`` every worker writes its samples to files under ``PROMETHEUS_MULTIPROC_DIR``
(the data directory's ``metrics/``, emptied by ``canary serve`` before the workers start), and a scrape, answered
by any one worker, adds up the counters and histograms of all of them. The gauges (the spool's, which every
worker shares) are set by the worker answering the scrape and read as the most recent value. prometheus-client
reads that variable when it is first imported, so ``canary serve`` sets it before anything imports this module.

On the hot paths (the token and events endpoints) a sample costs a dict look-up for the labelled child and its
``inc``/``observe``: ``labels()`` itself, with its argument checks and lock, is called once per label set.
"""

from __future__ import annotations

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
HTTP_SECONDS = Histogram("canary_http_request_duration_seconds", "Time to answer an HTTP request, by method and "
                         "route template.", ["method", "route"],
                         buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
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

_http: dict[tuple[str, str, int], tuple[Any, Any]] = {}
_children: dict[tuple[Any, str], Any] = {}
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


def _child(metric: Any, label: str) -> Any:
    child = _children.get((metric, label))
    if child is None:
        child = _children[(metric, label)] = metric.labels(label)
    return child


def request_answered(method: str, route: str, status: int, seconds: float) -> None:
    key = (method, route, status)
    children = _http.get(key)
    if children is None:
        if method not in _METHODS:
            method = "other"
        children = _http[key] = (HTTP_REQUESTS.labels(method, route, str(status)), HTTP_SECONDS.labels(method, route))
    children[0].inc()
    children[1].observe(seconds)


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
