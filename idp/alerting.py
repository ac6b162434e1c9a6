"""Wiring of analytics' inactivity alerts into the provider: settings, directory, service."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from analytics.alerts import AlertService, AlertSettings, MailTransport, OrganizationResolver
from idp.accounts.service import find_organization
from idp.directory import SqlAccountDirectory
from idp.settings import Settings

if TYPE_CHECKING:
    from analytics.api import AnalyticsFacade


def alert_settings(settings: Settings) -> AlertSettings:
    return AlertSettings(interval_seconds=float(settings.alert_interval), product_name=settings.product_name)


def alert_service(settings: Settings, factory: sessionmaker[Session], analytics: AnalyticsFacade,
                  mail: MailTransport | None = None) -> AlertService:
    """E-mail notifications go through ``mail``, the provider's mail transport (``idp.mail``): SMTP, or the
    development outbox when SMTP is not configured."""
    return AlertService(factory, analytics.clickhouse, SqlAccountDirectory(factory), alert_settings(settings),
                        mail=mail)


def organization_resolver(db: Session) -> OrganizationResolver:
    """Alert rules name organizations by id or slug; they store the id."""

    def resolve(reference: str) -> str | None:
        organization = find_organization(db, reference)
        return None if organization is None else organization.id

    return resolve
