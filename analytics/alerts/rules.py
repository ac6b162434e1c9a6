"""Alert rules: the one owner of what a rule may say, for the admin API, the CLI and anything else.

Every create and update goes through the checks below, with these bounds:

- `name`: at most 200 characters, surrounding spaces included (as the admin API's schema counts), and at
  least 1 once they are removed; no control characters (line breaks, tabs).
- `kind`: what the rule reports (`KINDS`): `account.inactive` (the default) when an account has been
  inactive for `threshold_days`; `account.going_quiet` when an account is silent well beyond its own rhythm
  (`analytics.queries.risk`), or, with too little history for a rhythm, silent for `threshold_days`;
  `organization.declining` when an organization's share of active members this week fell by the configured
  fraction against the four weeks before (`threshold_days` is then unused).
- `threshold_days`: a whole number from 1 to 3650 (ten years). Longer thresholds reach back before any
  event could have been recorded, and far longer ones overflow the detector's date arithmetic.
- `organization`: an organization the provider knows (`organizations` resolves an id or slug to its id),
  or None for every account.
- channels: at most 50 webhook endpoints, each existing and, when added to the rule, enabled; at most 50
  e-mail addresses (`analytics.alerts.email_syntax`, stored in lower case, at most 320 characters as given); at least
  one of either.
- `digest`: None (each transition e-mailed at once) or `daily` / `weekly` (`DIGESTS`): e-mail recipients get
  one message per period listing the rule's transitions since the last one (`analytics.alerts.digest`);
  webhooks stay immediate.

A new `kind`, `threshold_days` or `organization` starts the rule afresh: the accounts notified so far were judged by
the old terms, so their state is forgotten and the next run reports the accounts inactive by the new ones.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypedDict

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from analytics.alerts.email_syntax import is_email_address
from analytics.alerts.errors import AlertConfigError, UnknownRule
from analytics.alerts.models import AccountAlertState, AlertChannel, AlertRule, WebhookEndpoint

KINDS = ("account.inactive", "account.going_quiet", "organization.declining")
DIGESTS = ("daily", "weekly")
MIN_THRESHOLD_DAYS = 1
MAX_THRESHOLD_DAYS = 3650
MAX_NAME_LENGTH = 200
MAX_ORGANIZATION_LENGTH = 100
MAX_WEBHOOKS = 50
MAX_EMAILS = 50
MIN_EMAIL_LENGTH = 3
MAX_EMAIL_LENGTH = 320

OrganizationResolver = Callable[[str], str | None]
"""An organization's id or slug -> its id, or None when there is no such organization."""


class RuleChanges(TypedDict, total=False):
    """Fields of a rule to change; `webhook_ids` and `emails` replace the current ones."""

    name: str
    kind: str
    threshold_days: int
    organization: str | None
    webhook_ids: Sequence[int]
    emails: Sequence[str]
    enabled: bool
    digest: str | None


def utc_now() -> datetime:
    return datetime.now(UTC)


def _as_is(organization: str) -> str | None:
    return organization


# --- the checks ------------------------------------------------------------------------------------------
def check_name(value: object) -> str:
    """The name without surrounding spaces. Its length counts them, as the admin API's schema does: every
    surface accepts the same names."""
    if not isinstance(value, str) or not value.strip():
        raise AlertConfigError("name", "must not be empty")
    if len(value) > MAX_NAME_LENGTH:
        raise AlertConfigError("name", f"must have at most {MAX_NAME_LENGTH} characters, surrounding spaces "
                                       f"included")
    name = value.strip()
    # A name heads e-mail subjects and one-line messages: no line breaks, tabs or other control characters.
    control = next((c for c in name if unicodedata.category(c) == "Cc"), None)
    if control is not None:
        raise AlertConfigError("name", f"must not contain control characters such as line breaks or tabs; "
                                       f"found {control!r}")
    return name


def check_threshold_days(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not (
        MIN_THRESHOLD_DAYS <= value <= MAX_THRESHOLD_DAYS
    ):
        raise AlertConfigError(
            "threshold_days",
            f"must be a whole number of days from {MIN_THRESHOLD_DAYS} to {MAX_THRESHOLD_DAYS} (ten years); "
            f"got {value!r}",
        )
    return value


def check_kind(value: object) -> str:
    if not isinstance(value, str) or value not in KINDS:
        raise AlertConfigError("kind", f"must be one of {', '.join(KINDS)}; got {value!r}")
    return value


def check_organization(value: object, organizations: OrganizationResolver = _as_is) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_ORGANIZATION_LENGTH:
        raise AlertConfigError(
            "organization", f"must be an organization's id or slug of 1 to {MAX_ORGANIZATION_LENGTH} characters"
        )
    found = organizations(value)
    if found is None:
        raise AlertConfigError("organization", f"no organization {value!r}")
    return found


def check_webhook_ids(session: Session, values: Sequence[object], kept: Sequence[int] = ()) -> list[int]:
    """Existing endpoints, each once. An endpoint disabled since (410 Gone, too many failures) may stay on a
    rule (`kept`) but is not added to one until it is enabled again: it would notify no one."""
    if len(values) > MAX_WEBHOOKS:
        raise AlertConfigError("webhook_ids", f"must have at most {MAX_WEBHOOKS} items")
    ids: list[int] = []
    for index, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise AlertConfigError(f"webhook_ids[{index}]", "must be a webhook endpoint's id")
        if value in ids:
            raise AlertConfigError(f"webhook_ids[{index}]", f"repeats webhook endpoint {value}")
        ids.append(value)
    stored = session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.id.in_(ids))).all() if ids else ()
    found = {endpoint.id: endpoint for endpoint in stored}
    for index, value in enumerate(ids):
        endpoint = found.get(value)
        if endpoint is None:
            raise AlertConfigError(f"webhook_ids[{index}]", f"no webhook endpoint {value}")
        if endpoint.disabled_at is not None and value not in kept:
            raise AlertConfigError(f"webhook_ids[{index}]", f"webhook endpoint {value} is disabled "
                                   f"({endpoint.disabled_reason}); enable it first")
    return ids


def check_email(value: object, field: str = "email") -> str:
    """An address of one recipient, in lower case: nothing a mail header could split or fold."""
    if not isinstance(value, str):
        raise AlertConfigError(field, "must be an e-mail address")
    email = value.strip().lower()
    # The length counts surrounding spaces, as the admin API's schema does.
    if (not MIN_EMAIL_LENGTH <= len(email) <= MAX_EMAIL_LENGTH or len(value) > MAX_EMAIL_LENGTH
            or not is_email_address(email)):
        raise AlertConfigError(field, f"not an e-mail address: {value!r}")
    return email


def check_emails(values: Sequence[object]) -> list[str]:
    if len(values) > MAX_EMAILS:
        raise AlertConfigError("emails", f"must have at most {MAX_EMAILS} items")
    emails = [check_email(value, f"emails[{index}]") for index, value in enumerate(values)]
    if len(set(emails)) != len(emails):
        raise AlertConfigError("emails", "repeats an address")
    return emails


def check_channels(webhook_ids: Sequence[int], emails: Sequence[str], field: str = "webhook_ids") -> None:
    if not webhook_ids and not emails:
        raise AlertConfigError(field, "give at least one webhook endpoint or e-mail recipient")


def check_enabled(value: object) -> bool:
    if not isinstance(value, bool):
        raise AlertConfigError("enabled", "must be true or false")
    return value


def check_digest(value: object) -> str | None:
    if value is not None and value not in DIGESTS:
        raise AlertConfigError("digest", f"must be null (immediate), {' or '.join(DIGESTS)}; got {value!r}")
    return value


def check_stored(rule: AlertRule) -> None:
    """Refuse a stored rule the checks above would not have let in (written around them)."""
    check_threshold_days(rule.threshold_days)
    check_kind(rule.kind)
    check_digest(rule.digest)


# --- the service ---------------------------------------------------------------------------------------------
def _channels(webhook_ids: Sequence[int], emails: Sequence[str]) -> list[AlertChannel]:
    return [AlertChannel(endpoint_id=i) for i in webhook_ids] + [AlertChannel(email=e) for e in emails]


def create_rule(
    session: Session,
    name: str,
    threshold_days: int,
    organization: str | None = None,
    webhook_ids: Sequence[int] = (),
    emails: Sequence[str] = (),
    enabled: bool = True,
    *,
    kind: str = "account.inactive",
    digest: str | None = None,
    organizations: OrganizationResolver = _as_is,
    clock: Callable[[], datetime] = utc_now,
) -> AlertRule:
    """A rule notifying `webhook_ids` and `emails` when accounts (of `organization`, or all) have been
    inactive for `threshold_days`. Its first run reports the accounts already inactive, once. With a
    `digest`, the first digest period starts now."""
    rule_name = check_name(name)
    rule_kind = check_kind(kind)
    days = check_threshold_days(threshold_days)
    organization_id = check_organization(organization, organizations)
    ids = check_webhook_ids(session, webhook_ids)
    addresses = check_emails(emails)
    check_channels(ids, addresses)
    period = check_digest(digest)
    now = clock()
    rule = AlertRule(
        digest=period,
        digest_sent_at=None if period is None else now,
        name=rule_name,
        threshold_days=days,
        kind=rule_kind,
        organization=organization_id,
        enabled=check_enabled(enabled),
        created_at=now,
        channels=_channels(ids, addresses),
    )
    session.add(rule)
    session.flush()
    return rule


def get_rule(session: Session, rule_id: int) -> AlertRule:
    rule = session.get(AlertRule, rule_id)
    if rule is None:
        raise UnknownRule(rule_id)
    return rule


def rules_page(session: Session, offset: int = 0, limit: int | None = None) -> tuple[list[AlertRule], int]:
    """Rules in order of creation, and how many there are."""
    total = session.scalar(select(func.count()).select_from(AlertRule)) or 0
    rows = session.scalars(select(AlertRule).order_by(AlertRule.id).offset(offset).limit(limit))
    return list(rows), total


def update_rule(
    session: Session, rule_id: int, changes: RuleChanges, *, organizations: OrganizationResolver = _as_is,
    clock: Callable[[], datetime] = utc_now,
) -> AlertRule:
    """Change only the fields given. Nothing changes unless every field given passes its check. A digest
    switched on starts its first period now; switched off, the transitions waiting for it are sent at the
    next digest run (`analytics.alerts.digest`)."""
    rule = get_rule(session, rule_id)
    name = check_name(changes["name"]) if "name" in changes else rule.name
    kind = check_kind(changes["kind"]) if "kind" in changes else rule.kind
    days = check_threshold_days(changes["threshold_days"]) if "threshold_days" in changes else rule.threshold_days
    organization = (
        check_organization(changes["organization"], organizations) if "organization" in changes else rule.organization
    )
    enabled = check_enabled(changes["enabled"]) if "enabled" in changes else rule.enabled
    digest = check_digest(changes["digest"]) if "digest" in changes else rule.digest
    channels = None
    if "webhook_ids" in changes or "emails" in changes:
        current = rule_dict(rule)
        ids = (check_webhook_ids(session, changes["webhook_ids"], current["webhook_ids"]) if "webhook_ids" in changes
               else current["webhook_ids"])
        addresses = check_emails(changes["emails"]) if "emails" in changes else current["emails"]
        check_channels(ids, addresses, "webhook_ids" if "webhook_ids" in changes else "emails")
        channels = _channels(ids, addresses)
    restart = days != rule.threshold_days or organization != rule.organization or kind != rule.kind
    rule.name, rule.threshold_days, rule.organization, rule.enabled = name, days, organization, enabled
    rule.kind = kind
    if digest is not None and rule.digest is None:
        rule.digest_sent_at = clock()
    rule.digest = digest
    if channels is not None:
        rule.channels = channels
    if restart:
        session.execute(delete(AccountAlertState).where(AccountAlertState.rule_id == rule.id))
    session.flush()
    return rule


def delete_rule(session: Session, rule_id: int) -> None:
    """Deliveries already queued are still sent."""
    session.delete(get_rule(session, rule_id))
    session.flush()


def rule_dict(rule: AlertRule) -> dict[str, Any]:
    """What the admin API and the CLI show of a rule."""
    return {
        "id": rule.id,
        "name": rule.name,
        "kind": rule.kind,
        "threshold_days": rule.threshold_days,
        "organization_id": rule.organization,
        "webhook_ids": [c.endpoint_id for c in rule.channels if c.endpoint_id is not None],
        "emails": [c.email for c in rule.channels if c.email is not None],
        "enabled": rule.enabled,
        "digest": rule.digest,
        "created_at": rule.created_at.isoformat(),
    }
