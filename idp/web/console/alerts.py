"""Alert rules: who is notified, and how, when accounts go quiet. What a rule may say is checked by
``analytics.alerts`` (``create_rule``, ``update_rule``) alone; the console passes the form on."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from analytics.alerts import (
    DIGESTS,
    KINDS,
    MAX_THRESHOLD_DAYS,
    MIN_THRESHOLD_DAYS,
    AlertRule,
    RuleChanges,
    WebhookEndpoint,
    create_rule,
    delete_rule,
    get_rule,
    rules_page,
    update_rule,
    webhook_endpoints_page,
)
from idp.accounts.models import Organization
from idp.alerting import organization_resolver, rule_warnings
from idp.settings import Settings
from idp.web.console.auth import Operator
from idp.web.console.pages import Form, Refused, action, done, look, page, render, whole_number, work
from idp.web.context import canary


@dataclass
class Rules:
    rules: list[AlertRule]
    endpoints: list[WebhookEndpoint]
    organizations: list[Organization]

    @property
    def slugs(self) -> dict[str, str]:
        return {org.id: org.slug for org in self.organizations}

    @property
    def has_email_recipients(self) -> bool:
        return any(channel.email for rule in self.rules for channel in rule.channels)


def _rules(db: Session) -> Rules:
    rules, _ = rules_page(db)
    endpoints, _ = webhook_endpoints_page(db)
    orgs = list(db.scalars(select(Organization).order_by(Organization.slug)))
    return Rules(rules, endpoints, orgs)


async def show(request: Request, op: Operator, *, error: str = "", status: int = 200,
               form: Form | None = None) -> Response:
    c = canary(request)
    data = await look(c, _rules)
    return render(request, op, "console/alerts.html", {
        "section": "alerts", "d": data, "form": form, "smtp": bool(c.settings.smtp_host),
        "min_days": MIN_THRESHOLD_DAYS, "max_days": MAX_THRESHOLD_DAYS, "kinds": KINDS, "digests": DIGESTS},
        error=error, status=status)


def _webhook_ids(form: Form) -> list[int]:
    ids = []
    for value in form.getlist("webhook_ids"):
        number = whole_number(value)
        if number is None:
            raise Refused("webhook_ids must name webhook endpoints")
        ids.append(number)
    return ids


def _digest(form: Form) -> str | None:
    """The form's e-mail choice: empty for each notification at once, else the digest's period."""
    return form.get("digest").strip() or None


def _create(db: Session, form: Form) -> None:
    create_rule(db, form.get("name"), form.number("threshold_days", "threshold_days"),
                form.get("organization").strip() or None, _webhook_ids(form), form.lines("emails"),
                enabled=form.flag("enabled"), kind=form.get("kind").strip() or "account.inactive",
                digest=_digest(form), organizations=organization_resolver(db))


@action(show)
async def create(request: Request, op: Operator, form: Form) -> Response:
    await work(canary(request), _create, form)
    return done("/console/alerts", "rule-created")


def _rule_id(request: Request) -> int:
    value = request.path_params["rule_id"]
    number = whole_number(value)
    if number is None:
        raise Refused(f"no alert rule {value!r}", 404)
    return number


def _check_scope(db: Session, rule: AlertRule, organization: str | None, remedy: str) -> None:
    """A rule whose organization was deleted is disabled and keeps the organization's id
    (``idp.accounts.service.delete_organization``). Kept as it is, it would watch no one; the operator chooses
    its new scope, which the form never does for them (every account would report strangers)."""
    if organization is None or organization != rule.organization:
        return
    if organization_resolver(db)(organization) is None:
        raise Refused(f"organization {organization} no longer exists (it was deleted): {remedy}")


def _enable(db: Session, rule_id: int, enabled: bool) -> None:
    if enabled:
        rule = get_rule(db, rule_id)
        _check_scope(db, rule, rule.organization, "give the rule another organization, or all accounts, on its "
                     "page first")
    update_rule(db, rule_id, {"enabled": enabled}, organizations=organization_resolver(db))


@dataclass
class Editing:
    rule: AlertRule
    choices: Rules
    warnings: list[str]


def _editing(db: Session, rule_id: int, settings: Settings) -> Editing:
    """The rule, the form's choices, and what will not work about the rule's scope (the SMTP hint is the
    form's own)."""
    rule = get_rule(db, rule_id)
    warnings = rule_warnings(settings, (), organization_id=rule.organization, organizations=organization_resolver(db))
    return Editing(rule, _rules(db), warnings)


async def show_rule(request: Request, op: Operator, *, error: str = "", status: int = 200,
                    form: Form | None = None) -> Response:
    c = canary(request)
    data = await look(c, _editing, _rule_id(request), c.settings)
    return render(request, op, "console/alert.html", {
        "section": "alerts", "e": data, "form": form, "smtp": bool(c.settings.smtp_host),
        "min_days": MIN_THRESHOLD_DAYS, "max_days": MAX_THRESHOLD_DAYS, "kinds": KINDS, "digests": DIGESTS},
        error=error, status=status)


def _update(db: Session, rule_id: int, form: Form) -> None:
    organization = form.get("organization").strip() or None
    _check_scope(db, get_rule(db, rule_id), organization, "choose another organization, or all accounts, under "
                 "Accounts to save the rule")
    changes: RuleChanges = {
        "name": form.get("name"), "threshold_days": form.number("threshold_days", "threshold_days"),
        "organization": organization, "webhook_ids": _webhook_ids(form),
        "emails": form.lines("emails"), "enabled": form.flag("enabled")}
    if form.has("kind"):  # a form without the field leaves the rule's kind and digest as they are
        changes["kind"] = form.get("kind").strip()
    if form.has("digest"):
        changes["digest"] = _digest(form)
    update_rule(db, rule_id, changes, organizations=organization_resolver(db))


@action(show_rule)
async def update(request: Request, op: Operator, form: Form) -> Response:
    await work(canary(request), _update, _rule_id(request), form)
    return done("/console/alerts", "rule-updated")


@action(show)
async def toggle(request: Request, op: Operator, form: Form) -> Response:
    await work(canary(request), _enable, _rule_id(request), form.get("enabled") == "true")
    return done("/console/alerts", "rule-updated")


@action(show)
async def delete(request: Request, op: Operator, form: Form) -> Response:
    await work(canary(request), delete_rule, _rule_id(request))
    return done("/console/alerts", "rule-deleted")


alerts = page(show)
rule = page(show_rule)
