"""/admin/api/v1/alerts: inactivity alert rules, the webhook endpoints they notify, and recent deliveries.

Rules, endpoints and deliveries live in the accounts database (``analytics.alerts.models``), so these
operations work whether or not analytics is configured; the alert service that acts on them runs only
with analytics. A webhook secret is shown once, when the endpoint is created.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from analytics.alerts import (
    SECRET_PREFIX,
    AccountAlertState,
    AlertChannel,
    AlertConfigError,
    AlertRule,
    Delivery,
    InvalidSecretError,
    WebhookEndpoint,
    create_rule,
    create_webhook_endpoint,
    enable_webhook_endpoint,
    secret_key,
    validate_url,
)
from idp.accounts import service
from idp.accounts.errors import AccountError
from idp.web.admin import paging
from idp.web.admin.accounts import timestamp
from idp.web.admin.errors import BadRequest, Conflict, NotFound
from idp.web.admin.routing import Call, Operation, Parameter
from idp.web.admin.schemas import OPTIONAL_TIMESTAMP, TIMESTAMP, boolean, define, obj, string

TAG = "alerts"
MAX_ID = 2**31 - 1
MAX_THRESHOLD_DAYS = 36500
_ID = re.compile(r"^[1-9][0-9]{0,9}$")

RULE_ID = Parameter("rule_id", "path", {"type": "integer", "minimum": 1, "maximum": MAX_ID}, "the rule's id",
                    required=True)
WEBHOOK_ID = Parameter("webhook_id", "path", {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                       "the webhook endpoint's id", required=True)
STATUS = Parameter("status", "query", {"type": "string", "enum": ["pending", "delivered", "failed"]},
                   "only deliveries in this state")

# --- schemas -----------------------------------------------------------------------------------------------
ID = {"type": "integer", "minimum": 1}
RULE = define("AlertRule", obj({
    "id": ID,
    "name": string(),
    "threshold_days": {"type": "integer", "minimum": 1,
                       "description": "whole days without activity after which an account is reported"},
    "organization_id": {"type": ["string", "null"], "description": "only members of this organization; null "
                        "for every account"},
    "webhook_ids": {"type": "array", "items": ID, "description": "webhook endpoints notified"},
    "emails": {"type": "array", "items": string(format="email"), "description": "e-mail recipients notified"},
    "enabled": boolean(),
    "created_at": TIMESTAMP,
}))
RULE_PAGE = paging.page_of("AlertRulePage", RULE)

_RULE_NAME = string(minLength=1, maxLength=200)
_THRESHOLD = {"type": "integer", "minimum": 1, "maximum": MAX_THRESHOLD_DAYS,
              "description": "whole UTC days without activity after which an account is reported"}
_RULE_ORGANIZATION = {"type": ["string", "null"], "minLength": 1, "maxLength": 100,
                      "description": "an organization's id or slug: only its members; null for every account"}
_WEBHOOK_IDS = {"type": "array", "maxItems": 50, "uniqueItems": True,
                "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                "description": "ids of webhook endpoints to notify"}
_EMAILS = {"type": "array", "maxItems": 50, "uniqueItems": True,
           "items": string(minLength=3, maxLength=320, format="email"),
           "description": "e-mail recipients to notify (needs CANARY_SMTP_HOST)"}
RULE_CREATE = define("AlertRuleCreate", obj({
    "name": _RULE_NAME,
    "threshold_days": _THRESHOLD,
    "organization": {**_RULE_ORGANIZATION, "default": None},
    "webhook_ids": _WEBHOOK_IDS,
    "emails": _EMAILS,
    "enabled": {"type": "boolean", "default": True},
}, required=("name", "threshold_days"), description="give at least one webhook endpoint or e-mail recipient"))
RULE_UPDATE = define("AlertRuleUpdate", obj({
    "name": _RULE_NAME,
    "threshold_days": _THRESHOLD,
    "organization": _RULE_ORGANIZATION,
    "webhook_ids": {**_WEBHOOK_IDS, "description": "replaces the rule's webhook endpoints"},
    "emails": {**_EMAILS, "description": "replaces the rule's e-mail recipients"},
    "enabled": boolean(),
}, required=()))

_WEBHOOK = {
    "id": ID,
    "url": string(format="uri"),
    "description": string(),
    "created_at": TIMESTAMP,
    "disabled": boolean("a disabled endpoint is not notified; enable it again with POST …/enable"),
    "disabled_at": OPTIONAL_TIMESTAMP,
    "disabled_reason": {"type": ["string", "null"], "description": "why it was disabled: it answered 410 Gone, or "
                        "too many consecutive deliveries failed"},
    "failure_count": {"type": "integer", "minimum": 0, "description": "consecutive failed attempts; a "
                      "successful delivery resets it"},
}
WEBHOOK = define("WebhookEndpoint", obj(_WEBHOOK))
WEBHOOK_CREATED = define("WebhookEndpointCreated", obj({
    **_WEBHOOK,
    "secret": string("the signing secret (Standard Webhooks); shown only in this response"),
}))
WEBHOOK_PAGE = paging.page_of("WebhookEndpointPage", WEBHOOK)

_URL = string("an http or https URL with a host", minLength=1, maxLength=2000, format="uri")
_SECRET = string("a Standard Webhooks secret: `whsec_` and the base64 of 24 to 64 random bytes", maxLength=200,
                 pattern=f"^{SECRET_PREFIX}", writeOnly=True)
_DESCRIPTION = string(maxLength=500)
WEBHOOK_CREATE = define("WebhookEndpointCreate", obj({
    "url": _URL,
    "secret": {**_SECRET, "description": _SECRET["description"] + "; generated when omitted"},
    "description": {**_DESCRIPTION, "default": ""},
}, required=("url",)))
WEBHOOK_UPDATE = define("WebhookEndpointUpdate", obj({
    "url": _URL,
    "secret": {**_SECRET, "description": _SECRET["description"] + "; replaces the current one at once"},
    "description": _DESCRIPTION,
}, required=()))

DELIVERY = define("AlertDelivery", obj({
    "id": ID,
    "message_id": string("the `webhook-id` header; the same on every attempt"),
    "type": string(enum=["account.inactive", "account.reactivated"]),
    "rule_id": {"type": ["integer", "null"], "description": "null when the rule was deleted since"},
    "account": string("the account's id"),
    "webhook_id": {"type": ["integer", "null"], "description": "the webhook endpoint, or null for e-mail"},
    "email": {"type": ["string", "null"], "description": "the e-mail recipient, or null for a webhook"},
    "status": string(enum=["pending", "delivered", "failed"]),
    "attempts": {"type": "integer", "minimum": 0},
    "last_error": {"type": ["string", "null"]},
    "next_attempt_at": {**OPTIONAL_TIMESTAMP, "description": "when a pending delivery is tried next; null once "
                        "delivered or failed"},
    "created_at": TIMESTAMP,
    "delivered_at": OPTIONAL_TIMESTAMP,
}))
DELIVERY_PAGE = paging.page_of("AlertDeliveryPage", DELIVERY)


# --- parsing and lookups ---------------------------------------------------------------------------------------
def _config_error(err: AlertConfigError, fields: dict[str, str] | None = None) -> BadRequest:
    field = (fields or {}).get(err.field, err.field)
    return BadRequest(f"{field} {err.message}", field)


def _path_id(call: Call, name: str, what: str) -> int:
    value = call.path[name]
    if not _ID.match(value) or int(value) > MAX_ID:
        raise NotFound(f"no {what} {value!r}")
    return int(value)


def _rule(call: Call) -> AlertRule:
    rule_id = _path_id(call, "rule_id", "alert rule")
    rule = call.db.get(AlertRule, rule_id)
    if rule is None:
        raise NotFound(f"no alert rule {rule_id}")
    return rule


def _webhook(call: Call) -> WebhookEndpoint:
    webhook_id = _path_id(call, "webhook_id", "webhook endpoint")
    endpoint = call.db.get(WebhookEndpoint, webhook_id)
    if endpoint is None:
        raise NotFound(f"no webhook endpoint {webhook_id}")
    return endpoint


def rule_json(rule: AlertRule) -> dict[str, Any]:
    return {
        "id": rule.id, "name": rule.name, "threshold_days": rule.threshold_days,
        "organization_id": rule.organization,
        "webhook_ids": [c.endpoint_id for c in rule.channels if c.endpoint_id is not None],
        "emails": [c.email for c in rule.channels if c.email is not None],
        "enabled": rule.enabled, "created_at": timestamp(rule.created_at),
    }


def webhook_json(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id, "url": endpoint.url, "description": endpoint.description,
        "created_at": timestamp(endpoint.created_at), "disabled": endpoint.disabled_at is not None,
        "disabled_at": timestamp(endpoint.disabled_at), "disabled_reason": endpoint.disabled_reason,
        "failure_count": endpoint.failure_count,
    }


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    return {
        "id": delivery.id, "message_id": delivery.message_id, "type": delivery.event_type,
        "rule_id": delivery.rule_id, "account": delivery.account, "webhook_id": delivery.endpoint_id,
        "email": delivery.email, "status": delivery.status, "attempts": delivery.attempts,
        "last_error": delivery.last_error,
        "next_attempt_at": timestamp(delivery.next_attempt_at) if delivery.status == "pending" else None,
        "created_at": timestamp(delivery.created_at), "delivered_at": timestamp(delivery.delivered_at),
    }


def _url(value: str) -> str:
    try:
        if any(char.isspace() or ord(char) < 32 or ord(char) == 127 for char in value):
            raise AlertConfigError("url", "must not contain spaces or control characters")
        return validate_url(value)
    except AlertConfigError as err:
        raise _config_error(err) from err
    except ValueError as err:  # urlsplit refuses some malformed URLs outright
        raise BadRequest(f"url is malformed: {err}", "url") from err


def _organization(db: Session, value: str | None) -> str | None:
    if value is None:
        return None
    org = service.find_organization(db, value)
    if org is None:
        raise BadRequest(f"no organization {value!r}", "organization")
    return org.id


def _webhook_ids(db: Session, values: list[Any]) -> list[int]:
    ids = [int(v) for v in values]
    known = set(db.scalars(select(WebhookEndpoint.id).where(WebhookEndpoint.id.in_(ids)))) if ids else set()
    for index, value in enumerate(ids):
        if value not in known:
            raise BadRequest(f"no webhook endpoint {value}", f"webhook_ids[{index}]")
    return ids


def _emails(values: list[str]) -> list[str]:
    out = []
    for index, value in enumerate(values):
        try:
            out.append(service.normalize_email(value))
        except AccountError as err:
            raise BadRequest(str(err), f"emails[{index}]") from err
    if len(set(out)) != len(out):
        raise BadRequest("emails repeats an address", "emails")
    return out


def _page(call: Call, stmt: Any, order: Any) -> tuple[list[Any], int]:
    offset, limit = paging.window(call)
    total = call.db.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = list(call.db.scalars(stmt.order_by(*order).offset(offset).limit(limit)))
    return rows, total


# --- rules -------------------------------------------------------------------------------------------------
def list_rules(call: Call) -> dict[str, Any]:
    rows, total = _page(call, select(AlertRule), (AlertRule.id,))
    return paging.page(call, [rule_json(r) for r in rows], total)


def create_alert_rule(call: Call) -> dict[str, Any]:
    body = call.body
    organization = _organization(call.db, body.get("organization"))
    webhook_ids = _webhook_ids(call.db, body.get("webhook_ids", []))
    emails = _emails(body.get("emails", []))
    try:
        rule = create_rule(call.db, body["name"], int(body["threshold_days"]), organization, webhook_ids, emails,
                           enabled=body.get("enabled", True))
    except AlertConfigError as err:
        raise _config_error(err, {"endpoint_ids": "webhook_ids", "channels": "webhook_ids"}) from err
    return rule_json(rule)


def get_rule(call: Call) -> dict[str, Any]:
    return rule_json(_rule(call))


def update_rule(call: Call) -> dict[str, Any]:
    rule = _rule(call)
    body = call.body
    restart = False
    if "name" in body:
        if not body["name"].strip():
            raise BadRequest("name must not be empty", "name")
        rule.name = body["name"].strip()
    if "threshold_days" in body and int(body["threshold_days"]) != rule.threshold_days:
        rule.threshold_days = int(body["threshold_days"])
        restart = True
    if "organization" in body:
        organization = _organization(call.db, body["organization"])
        restart = restart or organization != rule.organization
        rule.organization = organization
    if "webhook_ids" in body or "emails" in body:
        current = rule_json(rule)
        webhook_ids = _webhook_ids(call.db, body["webhook_ids"]) if "webhook_ids" in body else current["webhook_ids"]
        emails = _emails(body["emails"]) if "emails" in body else current["emails"]
        if not webhook_ids and not emails:
            raise BadRequest("give at least one webhook endpoint or e-mail recipient",
                             "webhook_ids" if "webhook_ids" in body else "emails")
        rule.channels = ([AlertChannel(endpoint_id=i) for i in webhook_ids]
                         + [AlertChannel(email=e) for e in emails])
    if "enabled" in body:
        rule.enabled = body["enabled"]
    if restart:
        # The accounts notified so far were judged by the old threshold or organization: start afresh.
        call.db.execute(delete(AccountAlertState).where(AccountAlertState.rule_id == rule.id))
    call.db.flush()
    return rule_json(rule)


def delete_rule(call: Call) -> None:
    call.db.delete(_rule(call))


# --- webhook endpoints -------------------------------------------------------------------------------------
def list_webhooks(call: Call) -> dict[str, Any]:
    rows, total = _page(call, select(WebhookEndpoint), (WebhookEndpoint.id,))
    return paging.page(call, [webhook_json(e) for e in rows], total)


def create_webhook(call: Call) -> dict[str, Any]:
    body = call.body
    try:
        endpoint = create_webhook_endpoint(call.db, _url(body["url"]), body.get("secret"),
                                           body.get("description", ""))
    except AlertConfigError as err:
        raise _config_error(err) from err
    return {**webhook_json(endpoint), "secret": endpoint.secret}


def get_webhook(call: Call) -> dict[str, Any]:
    return webhook_json(_webhook(call))


def update_webhook(call: Call) -> dict[str, Any]:
    endpoint = _webhook(call)
    body = call.body
    if "url" in body:
        endpoint.url = _url(body["url"])
    if "secret" in body:
        try:
            secret_key(body["secret"])
        except InvalidSecretError as err:
            raise BadRequest(str(err), "secret") from err
        endpoint.secret = body["secret"]
    if "description" in body:
        endpoint.description = body["description"]
    call.db.flush()
    return webhook_json(endpoint)


def delete_webhook(call: Call) -> None:
    endpoint = _webhook(call)
    rules = sorted(set(call.db.scalars(select(AlertChannel.rule_id).where(AlertChannel.endpoint_id == endpoint.id))))
    if rules:
        raise Conflict(f"webhook endpoint {endpoint.id} is used by alert rule(s) {', '.join(map(str, rules))}; "
                       "remove it from them first")
    call.db.delete(endpoint)


def enable_webhook(call: Call) -> dict[str, Any]:
    endpoint = _webhook(call)
    enable_webhook_endpoint(call.db, endpoint)
    call.db.flush()
    return webhook_json(endpoint)


# --- deliveries --------------------------------------------------------------------------------------------
def list_deliveries(call: Call) -> dict[str, Any]:
    stmt = select(Delivery)
    if "status" in call.query:
        stmt = stmt.where(Delivery.status == call.query["status"])
    rows, total = _page(call, stmt, (Delivery.created_at.desc(), Delivery.id.desc()))
    return paging.page(call, [delivery_json(d) for d in rows], total)


OPERATIONS = [
    Operation("GET", "/alerts/rules", list_rules, "listAlertRules", "List alert rules", TAG, RULE_PAGE,
              parameters=paging.PARAMETERS, description="Rules in order of creation."),
    Operation("POST", "/alerts/rules", create_alert_rule, "createAlertRule", "Create an alert rule", TAG, RULE,
              status=201, body=RULE_CREATE, response_description="Created",
              description="Notifies the webhook endpoints and e-mail recipients given when an account (of the "
                          "organization, or any) has had no activity for `threshold_days`, and again when it "
                          "is back. Its first run reports the accounts already inactive, once."),
    Operation("GET", "/alerts/rules/{rule_id}", get_rule, "getAlertRule", "Get an alert rule", TAG, RULE,
              parameters=(RULE_ID,)),
    Operation("PATCH", "/alerts/rules/{rule_id}", update_rule, "updateAlertRule", "Change an alert rule", TAG, RULE,
              body=RULE_UPDATE, parameters=(RULE_ID,),
              description="Changes only the fields given; `webhook_ids` and `emails` replace the current ones. "
                          "A new `threshold_days` or `organization` starts the rule afresh: its next run reports "
                          "the accounts inactive by the new terms, once."),
    Operation("DELETE", "/alerts/rules/{rule_id}", delete_rule, "deleteAlertRule", "Delete an alert rule", TAG,
              status=204, parameters=(RULE_ID,), response_description="Deleted",
              description="Deliveries already queued are still sent."),
    Operation("GET", "/alerts/webhooks", list_webhooks, "listWebhookEndpoints", "List webhook endpoints", TAG,
              WEBHOOK_PAGE, parameters=paging.PARAMETERS, description="Endpoints in order of creation."),
    Operation("POST", "/alerts/webhooks", create_webhook, "createWebhookEndpoint", "Add a webhook endpoint", TAG,
              WEBHOOK_CREATED, status=201, body=WEBHOOK_CREATE, response_description="Created",
              description="Notifications are POSTed as JSON and signed per Standard Webhooks with the "
                          "endpoint's secret, which this response carries and no other does."),
    Operation("GET", "/alerts/webhooks/{webhook_id}", get_webhook, "getWebhookEndpoint", "Get a webhook endpoint",
              TAG, WEBHOOK, parameters=(WEBHOOK_ID,)),
    Operation("PATCH", "/alerts/webhooks/{webhook_id}", update_webhook, "updateWebhookEndpoint",
              "Change a webhook endpoint", TAG, WEBHOOK, body=WEBHOOK_UPDATE, parameters=(WEBHOOK_ID,),
              description="Changes only the fields given."),
    Operation("DELETE", "/alerts/webhooks/{webhook_id}", delete_webhook, "deleteWebhookEndpoint",
              "Delete a webhook endpoint", TAG, status=204, parameters=(WEBHOOK_ID,), conflict=True,
              response_description="Deleted",
              description="Its deliveries go with it. 409 while an alert rule still notifies it.",
              errors={409: "An alert rule still notifies the endpoint: change or delete the rule first."}),
    Operation("POST", "/alerts/webhooks/{webhook_id}/enable", enable_webhook, "enableWebhookEndpoint",
              "Enable a webhook endpoint again", TAG, WEBHOOK, parameters=(WEBHOOK_ID,),
              description="Clears the disabled state and the failure count; new notifications reach it again."),
    Operation("GET", "/alerts/deliveries", list_deliveries, "listAlertDeliveries", "Recent deliveries", TAG,
              DELIVERY_PAGE, parameters=(STATUS, *paging.PARAMETERS),
              description="Notifications sent or to be sent, newest first, with their attempts and last error."),
]
