"""The alert service: detection, the e-mail digests whose period ended, then delivery, once (`run_once`, for
cron) or in a background thread.

Time comes from `clock` (default: the system clock), so tests move time instead of waiting for it; the
background loop can be asked to run a cycle at once and be awaited (`run_cycle`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from sqlalchemy.orm import Session

from analytics.alerts.addresses import GuardedTransport
from analytics.alerts.detector import Transition, run_detection
from analytics.alerts.digest import enqueue_digests
from analytics.alerts.dispatcher import DeliveryReport, deliver_due
from analytics.alerts.email import MailTransport
from analytics.alerts.settings import AlertSettings
from analytics.alerts.slack import OrganizationNamer
from analytics.directory import AccountDirectory
from analytics.queries import Executor

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class RunReport:
    transitions: list[Transition]
    deliveries: DeliveryReport


class AlertService:
    def __init__(
        self,
        session_factory: Callable[[], Session],
        engine: Executor,
        directory: AccountDirectory,
        settings: AlertSettings | None = None,
        clock: Callable[[], datetime] = utc_now,
        transport: httpx.BaseTransport | None = None,
        mail: MailTransport | None = None,
        organizations: OrganizationNamer | None = None,
    ) -> None:
        """``transport`` carries webhooks (tests pass one); ``mail`` sends e-mail notifications (the host
        application's mail service; without one they are retried until it exists or they fail);
        ``organizations`` names organizations (by slug) in the text `slack` endpoints receive."""
        self.session_factory = session_factory
        self.engine = engine
        self.directory = directory
        self.settings = settings or AlertSettings()
        self.clock = clock
        self.mail = mail
        self.organizations = organizations
        # Webhooks go only to public addresses, checked after resolution on each connection (``addresses``);
        # a ``transport`` given (tests answering in-process) replaces that guard.
        self._client = httpx.Client(
            timeout=self.settings.webhook_timeout_seconds,
            transport=transport or GuardedTransport(self.settings.allow_private_addresses),
            follow_redirects=False,
            trust_env=False,
            headers={"user-agent": "canary-webhooks/1"},
        )
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._cycles = threading.Condition()
        self._started = 0
        self._finished = 0

    def run_once(self, now: datetime | None = None) -> RunReport:
        """Detect transitions, then send every delivery due at `now` (default: the clock).

        Detection never keeps pending notifications from going out: should it fail as a whole (a rule on
        its own is skipped by `run_detection`), what is due is still delivered before the error is raised."""
        with self._lock:
            moment = now or self.clock()
            try:
                transitions = run_detection(self.session_factory, self.engine, self.directory, moment,
                                            self.settings.churn, self.settings.decline_fraction)
            except Exception:
                deliver_due(self.session_factory, self.settings, moment, self._client, self.mail,
                            self.organizations)
                raise
            enqueue_digests(self.session_factory, moment)
            deliveries = deliver_due(self.session_factory, self.settings, moment, self._client, self.mail,
                                     self.organizations)
            return RunReport(transitions, deliveries)

    def start(self) -> None:
        """Run every `settings.interval_seconds` in a daemon thread until `stop()`."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._wake.clear()
        self._thread = threading.Thread(target=self._loop, name="canary-alerts", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self._cycles:
                self._started += 1
            try:
                self.run_once()
            except Exception:
                log.exception("alert run failed; retrying in %s s", self.settings.interval_seconds)
            finally:
                with self._cycles:
                    self._finished += 1
                    self._cycles.notify_all()
            self._wake.wait(self.settings.interval_seconds)
            self._wake.clear()

    def run_cycle(self, timeout: float = 30.0) -> None:
        """Have the background loop run now rather than at the end of its interval, and wait until a run
        that started after this call has finished."""
        with self._cycles:
            if self._thread is None or not self._thread.is_alive():
                raise RuntimeError("the alert service is not running")
            target = self._started + 1
            self._wake.set()
            if not self._cycles.wait_for(lambda: self._finished >= target, timeout):
                raise TimeoutError(f"no alert run finished within {timeout} s")

    def stop(self, timeout: float | None = 30.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def close(self) -> None:
        self.stop()
        self._client.close()

    def __enter__(self) -> AlertService:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
