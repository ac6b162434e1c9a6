"""Delivering due notifications, with retries persisted in `alert_deliveries`.

A due delivery is first claimed (its `next_attempt_at` pushed `claim_seconds` ahead by compare-and-set)
so that concurrent runners — workers, nodes — do not send it twice, then sent outside any transaction, then
its outcome recorded if the claim still holds. A runner that dies while sending leaves the claim to expire:
another runner then sends the delivery, and the cut-short attempt is not counted. A runner that outlived its
claim (paused, or a send slower than the claim) records nothing: whoever claimed the delivery since owns it.
2xx delivers. A failure schedules the next attempt after `AlertSettings.backoff`; after `max_attempts` the
delivery fails. A webhook endpoint is disabled at once when it answers 410 Gone, and otherwise only once it has
failed for as long as the retry schedule lasts: a notification has failed `disable_after_failures` attempts and
no delivery to the endpoint has succeeded since (`failure_count`, the failed attempts in a row, is at least as
many). A short outage with many notifications queued thus only delays them. Disabling holds the endpoint's
pending deliveries (failed, `HELD` in their error); once the endpoint is enabled again they are queued afresh
(`requeue_held`), so that nothing is lost.

Targets are logged by endpoint id and origin only: a webhook URL may carry a secret (userinfo, a Slack path).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from analytics import observe
from analytics.alerts.email import MailTransport, send_email
from analytics.alerts.models import Delivery, WebhookEndpoint
from analytics.alerts.settings import AlertSettings
from analytics.alerts.slack import OrganizationNamer, slack_body
from analytics.alerts.webhooks import Outcome, send_webhook

log = logging.getLogger(__name__)
# httpx logs every request's full URL at INFO ("HTTP Request: POST <url>"), secrets included.
logging.getLogger("httpx").setLevel(logging.WARNING)

HELD = "held while the endpoint is disabled: "
"""Starts the error of a delivery that disabling its endpoint stopped; enabling the endpoint requeues it."""


@dataclass
class DeliveryReport:
    delivered: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)
    """Message ids; `superseded`: sent after the claim had expired, so the outcome was left to the runner
    that claimed the delivery since."""


def _claim(session_factory: Callable[[], Session], settings: AlertSettings,
           now: datetime) -> list[tuple[int, datetime]]:
    """Claimed deliveries, each with the `next_attempt_at` that marks the claim as this runner's."""
    claimed = []
    until = now + timedelta(seconds=settings.claim_seconds)
    with session_factory() as session:
        requeue_held(session, now)
        due = session.execute(
            select(Delivery.id, Delivery.next_attempt_at)
            .where(Delivery.status == "pending", Delivery.next_attempt_at <= now)
            .order_by(Delivery.next_attempt_at, Delivery.id)
            .limit(settings.batch_size)
        ).all()
        for delivery_id, due_at in due:
            result = session.execute(
                update(Delivery)
                .where(
                    Delivery.id == delivery_id,
                    Delivery.status == "pending",
                    Delivery.next_attempt_at == due_at,
                )
                .values(next_attempt_at=until)
            )
            if getattr(result, "rowcount", 0) == 1:
                claimed.append((delivery_id, until))
        session.commit()
    return claimed


def requeue_held(session: Session, now: datetime, endpoint_id: int | None = None) -> int:
    """Queue again, as new (no attempts, due at ``now``), the deliveries held by disabling an endpoint that is
    enabled again (only ``endpoint_id``'s, if given); how many. One statement: of concurrent runners, one
    requeues each delivery."""
    enabled = select(WebhookEndpoint.id).where(WebhookEndpoint.disabled_at.is_(None))
    if endpoint_id is not None:
        enabled = enabled.where(WebhookEndpoint.id == endpoint_id)
    result = session.execute(
        update(Delivery)
        .where(Delivery.status == "failed", Delivery.last_error.startswith(HELD, autoescape=True),
               Delivery.endpoint_id.in_(enabled))
        .values(status="pending", attempts=0, next_attempt_at=now, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _disable(session: Session, endpoint: WebhookEndpoint, reason: str, now: datetime, but: int) -> None:
    """Disable ``endpoint`` and hold its other pending deliveries (all but ``but``)."""
    endpoint.disabled_at = now
    endpoint.disabled_reason = reason[:500]
    session.execute(
        update(Delivery)
        .where(Delivery.endpoint_id == endpoint.id, Delivery.status == "pending", Delivery.id != but)
        .values(status="failed", last_error=f"{HELD}{reason}"[:500])
        .execution_options(synchronize_session=False)
    )


def _record(
    session: Session,
    delivery: Delivery,
    endpoint: WebhookEndpoint | None,
    outcome: Outcome,
    settings: AlertSettings,
    now: datetime,
    report: DeliveryReport,
) -> None:
    delivery.attempts += 1
    if outcome.delivered:
        delivery.status = "delivered"
        delivery.delivered_at = now
        delivery.last_error = None
        if endpoint is not None:
            endpoint.failure_count = 0
        report.delivered.append(delivery.message_id)
        observe.count("alert_deliveries", "delivered")
        return
    delivery.last_error = outcome.error
    exhausted = outcome.permanent or delivery.attempts >= settings.max_attempts
    if endpoint is not None:
        endpoint.failure_count += 1
        # Failed attempts in a row count toward disabling only once one notification has failed that many
        # times itself: a short outage fails every queued notification once, which is no reason to disable.
        failing = min(endpoint.failure_count, delivery.attempts)
        if outcome.gone:
            exhausted = True
            _disable(session, endpoint, "the endpoint answered 410 Gone", now, but=delivery.id)
        elif failing >= settings.disable_after_failures:
            _disable(
                session,
                endpoint,
                f"{endpoint.failure_count} consecutive failed attempts, {delivery.attempts} of one notification; "
                f"last: {outcome.error}",
                now,
                but=delivery.id,
            )
            if not exhausted:
                delivery.last_error = f"{HELD}{endpoint.disabled_reason}"[:500]
                delivery.status = "failed"
    if delivery.status == "pending" and exhausted:
        delivery.status = "failed"
    if delivery.status == "pending":
        delivery.next_attempt_at = now + timedelta(seconds=settings.backoff(delivery.attempts))
        report.retrying.append(delivery.message_id)
        observe.count("alert_deliveries", "retrying")
    else:
        report.failed.append(delivery.message_id)
        observe.count("alert_deliveries", "failed")


def _target(endpoint_id: int, url: str) -> str:
    """The endpoint as logged: its id and origin, without the userinfo, path or query that may hold a secret."""
    try:
        parsed = httpx.URL(url)
        origin = f"{parsed.scheme}://{parsed.host}" + (f":{parsed.port}" if parsed.port else "")
    except Exception:
        origin = "an unparsable URL"
    return f"webhook endpoint {endpoint_id} ({origin})"


def deliver_due(
    session_factory: Callable[[], Session],
    settings: AlertSettings,
    now: datetime,
    client: httpx.Client,
    mail: MailTransport | None = None,
    organizations: OrganizationNamer | None = None,
) -> DeliveryReport:
    """Send what is due at ``now``: webhooks through ``client``, e-mails through ``mail`` (none: e-mail
    deliveries fail their attempt with "e-mail is not configured" and are retried). A `slack` endpoint
    receives the stored notification as one line of text (``analytics.alerts.slack``), its organizations
    named by ``organizations``.

    One notification never holds up the others: should sending or recording it raise, the error is logged
    and recorded as a failed attempt of that notification, and the next one goes out."""
    report = DeliveryReport()
    for delivery_id, until in _claim(session_factory, settings, now):
        try:
            _deliver(session_factory, delivery_id, until, settings, now, client, mail, organizations, report)
        except Exception as error:
            log.exception("alert notification (delivery %s) could not be sent", delivery_id)
            _record_error(session_factory, delivery_id, until, error, settings, now, report)
    return report


def _deliver(
    session_factory: Callable[[], Session],
    delivery_id: int,
    until: datetime,
    settings: AlertSettings,
    now: datetime,
    client: httpx.Client,
    mail: MailTransport | None,
    organizations: OrganizationNamer | None,
    report: DeliveryReport,
) -> None:
    """Send one claimed delivery and record its outcome if the claim (``until``) still holds."""
    with session_factory() as session:
        delivery = session.get(Delivery, delivery_id)
        if delivery is None or delivery.status != "pending":
            return
        endpoint = None if delivery.endpoint_id is None else session.get(WebhookEndpoint, delivery.endpoint_id)
        message_id, body = delivery.message_id, delivery.payload
        if delivery.endpoint_id is not None:
            if endpoint is None or endpoint.disabled_at is not None:
                delivery.status = "failed"
                delivery.last_error = ("endpoint deleted" if endpoint is None
                                       else f"{HELD}{endpoint.disabled_reason}"[:500])
                report.failed.append(message_id)
                observe.count("alert_deliveries", "failed")
                session.commit()
                return
            url, secret, slack = endpoint.url, endpoint.secret, endpoint.format == "slack"
        recipient = delivery.email
        session.commit()  # no transaction stays open while sending
        if endpoint is not None and slack:
            outcome = send_webhook(client, url, secret, message_id,
                                   slack_body(body, organizations, settings.product_name), signed=False)
        elif endpoint is not None:
            outcome = send_webhook(client, url, secret, message_id, body)
        elif mail is None or recipient is None:
            outcome = Outcome(False, "e-mail is not configured")
        else:
            outcome = send_email(mail, recipient, message_id, body, settings.product_name)
        if not outcome.delivered:
            log.warning("alert notification %s to %s failed: %s", message_id,
                        _target(endpoint.id, url) if endpoint is not None else recipient, outcome.error)
        # Locked until recorded, so that no runner claims it in between.
        delivery = session.get(Delivery, delivery_id, with_for_update=True, populate_existing=True)
        if delivery is None or delivery.status != "pending" or delivery.next_attempt_at != until:
            log.warning("alert notification %s: its claim expired while it was sent; the outcome is left to "
                        "the runner that has it now", message_id)
            report.superseded.append(message_id)
            session.rollback()
            return
        endpoint = None if endpoint is None else session.get(WebhookEndpoint, endpoint.id)
        _record(session, delivery, endpoint, outcome, settings, now, report)
        session.commit()


def _record_error(
    session_factory: Callable[[], Session],
    delivery_id: int,
    until: datetime,
    error: Exception,
    settings: AlertSettings,
    now: datetime,
    report: DeliveryReport,
) -> None:
    """Record an unexpected error as a failed attempt of a delivery still claimed by this runner (retried
    like any failure); if even that fails (the database is down), the claim expires and the delivery is
    sent again later."""
    message = f"{type(error).__name__}: {error}".encode("utf-8", "backslashreplace").decode()[:500]
    try:
        with session_factory() as session:
            delivery = session.get(Delivery, delivery_id, with_for_update=True)
            if delivery is None or delivery.status != "pending" or delivery.next_attempt_at != until:
                return
            endpoint = None if delivery.endpoint_id is None else session.get(WebhookEndpoint,
                                                                             delivery.endpoint_id)
            _record(session, delivery, endpoint, Outcome(False, message), settings, now, report)
            session.commit()
    except Exception:
        log.exception("the failure of alert delivery %s could not be recorded", delivery_id)
