"""Wiring of analytics' inactivity alerts into the provider: settings, directory, service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from analytics.alerts import AlertService, AlertSettings, MailTransport, OrganizationResolver
from analytics.queries import ChurnModel
from idp.accounts.service import find_organization
from idp.directory import SqlAccountDirectory
from idp.settings import Settings

if TYPE_CHECKING:
    from analytics.api import AnalyticsFacade


def alert_settings(settings: Settings) -> AlertSettings:
    return AlertSettings(interval_seconds=float(settings.alert_interval), product_name=settings.product_name,
                         webhook_timeout_seconds=float(settings.webhook_timeout),
                         claim_seconds=settings.alert_claim_seconds,
                         churn=ChurnModel(**settings.churn_parameters()),  # type: ignore[arg-type]
                         decline_fraction=settings.churn_decline_fraction,
                         allow_private_addresses=settings.webhook_allow_private)


def alert_service(settings: Settings, factory: sessionmaker[Session], analytics: AnalyticsFacade,
                  mail: MailTransport | None = None, clock: Callable[[], datetime] | None = None) -> AlertService:
    """The alert service. E-mail notifications go through ``mail``, the provider's mail transport (``idp.mail``):
    SMTP, or the development outbox when SMTP is not configured; ``clock`` is the provider's (the system clock by
    default)."""
    service = AlertService(factory, analytics.clickhouse, SqlAccountDirectory(factory), alert_settings(settings),
                           mail=mail, organizations=organization_namer(factory))
    if clock is not None:
        service.clock = clock
    return service


def rule_warnings(settings: Settings, emails: object, *, organization_id: object = None,
                  organizations: OrganizationResolver | None = None) -> list[str]:
    """What will not work as a rule with these e-mail recipients and this organization says: an organization
    that no longer exists (looked up with ``organizations`` when given); mail without SMTP."""
    warnings = []
    if isinstance(organization_id, str) and organizations is not None and organizations(organization_id) is None:
        warnings.append(missing_organization(organization_id))
    if emails and not settings.smtp_host:
        warnings.append("SMTP is not configured (CANARY_SMTP_HOST is empty): this rule's e-mail goes to the "
                        f"development outbox ({settings.outbox_dir}), not to its recipients")
    return warnings


def missing_organization(organization_id: str) -> str:
    """Deleting an organization disables the rules that watch it and keeps its id on them
    (``idp.accounts.service.delete_organization``): what such a rule says."""
    return (f"organization {organization_id} no longer exists (it was deleted): this rule watches no one; give it "
            "another organization, or every account, before enabling it again")


def organization_resolver(db: Session) -> OrganizationResolver:
    """Alert rules name organizations by id or slug; they store the id."""

    def resolve(reference: str) -> str | None:
        organization = find_organization(db, reference)
        return None if organization is None else organization.id

    return resolve


def organization_namer(factory: sessionmaker[Session]) -> Callable[[str], str | None]:
    """Notifications people read (Slack-compatible webhooks) name an organization by its slug."""

    def name(organization_id: str) -> str | None:
        with factory() as db:
            organization = find_organization(db, organization_id)
            return None if organization is None else organization.slug

    return name
