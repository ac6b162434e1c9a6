"""/admin/api/v1/alerts/rules: what `analytics.alerts.rules` owns, over HTTP.

The request schemas take their bounds from the rules service, so the published limits are the ones it
enforces; what the schemas cannot say (an endpoint that exists, an organization, an address repeated in
another case) the service answers with the field at fault.
"""

from __future__ import annotations

from typing import Any, cast

from analytics.alerts import (
    DIGESTS,
    KINDS,
    MAX_EMAIL_LENGTH,
    MAX_EMAILS,
    MAX_NAME_LENGTH,
    MAX_ORGANIZATION_LENGTH,
    MAX_THRESHOLD_DAYS,
    MAX_WEBHOOKS,
    MIN_EMAIL_LENGTH,
    MIN_THRESHOLD_DAYS,
    RuleChanges,
    create_rule,
    delete_rule,
    get_rule,
    rule_dict,
    rules_page,
    update_rule,
)
from idp.alerting import organization_resolver, rule_warnings
from idp.web.admin import paging
from idp.web.admin.alerts.paths import ID, MAX_ID, TAG, id_parameter, path_id
from idp.web.admin.routing import Call, Operation
from idp.web.admin.schemas import TIMESTAMP, boolean, define, obj, string

RULE_ID = id_parameter("rule_id", "rule")

RULE = define("AlertRule", obj({
    "id": ID,
    "name": string(),
    "kind": string("what the rule reports", enum=list(KINDS)),
    "threshold_days": {"type": "integer", "minimum": 1,
                       "description": "whole days without activity after which an account is reported"},
    "organization_id": {"type": ["string", "null"], "description": "only members of this organization; null "
                        "for every account"},
    "webhook_ids": {"type": "array", "items": ID, "description": "webhook endpoints notified"},
    "emails": {"type": "array", "items": string(format="email"), "description": "e-mail recipients notified"},
    "enabled": boolean(),
    "digest": {"type": ["string", "null"], "enum": [None, *DIGESTS],
               "description": "null: each transition e-mailed at once; daily or weekly: one e-mail digest per period"},
    "created_at": TIMESTAMP,
    "warnings": {"type": "array", "items": string(), "description": "what will not work as configured, e.g. "
                 "e-mail recipients while SMTP is not configured; empty when nothing"},
}))
RULE_PAGE = paging.page_of("AlertRulePage", RULE)

_RULE_NAME = string(minLength=1, maxLength=MAX_NAME_LENGTH)
_THRESHOLD = {"type": "integer", "minimum": MIN_THRESHOLD_DAYS, "maximum": MAX_THRESHOLD_DAYS,
              "description": "whole UTC days without activity after which an account is reported "
                             f"({MIN_THRESHOLD_DAYS} to {MAX_THRESHOLD_DAYS})"}
_KIND = string("`account.inactive`: no activity for `threshold_days`; `account.going_quiet`: silent well beyond "
               "the account's own rhythm (with too little history for one, for `threshold_days`); "
               "`organization.declining`: the share of members active this week fell by "
               "CANARY_CHURN_DECLINE_FRACTION against the four weeks before", enum=list(KINDS))
_RULE_ORGANIZATION = {"type": ["string", "null"], "minLength": 1, "maxLength": MAX_ORGANIZATION_LENGTH,
                      "description": "an organization's id or slug: only its members; null for every account"}
_WEBHOOK_IDS = {"type": "array", "maxItems": MAX_WEBHOOKS, "uniqueItems": True,
                "items": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
                "description": "ids of webhook endpoints to notify"}
_EMAILS = {"type": "array", "maxItems": MAX_EMAILS, "uniqueItems": True,
           "items": string(minLength=MIN_EMAIL_LENGTH, maxLength=MAX_EMAIL_LENGTH, format="email"),
           "description": "e-mail recipients to notify (through CANARY_SMTP_HOST; without it, "
                                          "written to the development outbox)"}
_DIGEST = {"type": ["string", "null"], "enum": [None, *DIGESTS],
           "description": "null: e-mail recipients get each transition at once; `daily` or `weekly`: one message "
                          "per period listing the transitions since the last one (webhooks stay immediate)"}
RULE_CREATE = define("AlertRuleCreate", obj({
    "name": _RULE_NAME,
    "kind": {**_KIND, "default": "account.inactive"},
    "threshold_days": _THRESHOLD,
    "organization": {**_RULE_ORGANIZATION, "default": None},
    "webhook_ids": _WEBHOOK_IDS,
    "emails": _EMAILS,
    "enabled": {"type": "boolean", "default": True},
    "digest": {**_DIGEST, "default": None},
}, required=("name", "threshold_days"), description="give at least one webhook endpoint or e-mail recipient"))
RULE_UPDATE = define("AlertRuleUpdate", obj({
    "name": _RULE_NAME,
    "kind": _KIND,
    "threshold_days": _THRESHOLD,
    "organization": _RULE_ORGANIZATION,
    "webhook_ids": {**_WEBHOOK_IDS, "description": "replaces the rule's webhook endpoints"},
    "emails": {**_EMAILS, "description": "replaces the rule's e-mail recipients"},
    "enabled": boolean(),
    "digest": _DIGEST,
}, required=()))


def _changes(body: dict[str, Any]) -> RuleChanges:
    """The body as the service takes it: JSON integers may arrive as 7.0."""
    changes: dict[str, Any] = dict(body)
    if "threshold_days" in changes:
        changes["threshold_days"] = int(changes["threshold_days"])
    if "webhook_ids" in changes:
        changes["webhook_ids"] = [int(v) for v in changes["webhook_ids"]]
    return cast(RuleChanges, changes)


def list_rules(call: Call) -> dict[str, Any]:
    rows, total = rules_page(call.db, *paging.window(call))
    return paging.page(call, [_with_warnings(call, rule_dict(r)) for r in rows], total)


def create_alert_rule(call: Call) -> dict[str, Any]:
    body = _changes(call.body)
    rule = create_rule(call.db, body["name"], body["threshold_days"], body.get("organization"),
                       body.get("webhook_ids", ()), body.get("emails", ()), body.get("enabled", True),
                       kind=body.get("kind", "account.inactive"), digest=body.get("digest"),
                       organizations=organization_resolver(call.db))
    return _with_warnings(call, rule_dict(rule))


def get_alert_rule(call: Call) -> dict[str, Any]:
    return _with_warnings(call, rule_dict(get_rule(call.db, path_id(call, "rule_id", "alert rule"))))


def update_alert_rule(call: Call) -> dict[str, Any]:
    rule_id = path_id(call, "rule_id", "alert rule")
    rule = update_rule(call.db, rule_id, _changes(call.body), organizations=organization_resolver(call.db))
    return _with_warnings(call, rule_dict(rule))


def _with_warnings(call: Call, rule: dict[str, Any]) -> dict[str, Any]:
    return {**rule, "warnings": rule_warnings(call.c.settings, rule["emails"], organization_id=rule["organization_id"],
                                              organizations=organization_resolver(call.db))}


def delete_alert_rule(call: Call) -> None:
    delete_rule(call.db, path_id(call, "rule_id", "alert rule"))


OPERATIONS = [
    Operation("GET", "/alerts/rules", list_rules, "listAlertRules", "List alert rules", TAG, RULE_PAGE,
              parameters=paging.PARAMETERS, description="Rules in order of creation."),
    Operation("POST", "/alerts/rules", create_alert_rule, "createAlertRule", "Create an alert rule", TAG, RULE,
              status=201, body=RULE_CREATE, response_description="Created",
              description="Notifies the webhook endpoints and e-mail recipients given when an account (of the "
                          "organization, or any) has had no activity for `threshold_days`, and again when it "
                          "is back. Its first run reports the accounts already inactive, once."),
    Operation("GET", "/alerts/rules/{rule_id}", get_alert_rule, "getAlertRule", "Get an alert rule", TAG, RULE,
              parameters=(RULE_ID,)),
    Operation("PATCH", "/alerts/rules/{rule_id}", update_alert_rule, "updateAlertRule", "Change an alert rule", TAG,
              RULE, body=RULE_UPDATE, parameters=(RULE_ID,),
              description="Changes only the fields given; `webhook_ids` and `emails` replace the current ones. "
                          "A new `kind`, `threshold_days` or `organization` starts the rule afresh: its next run "
                          "reports the accounts inactive by the new terms, once."),
    Operation("DELETE", "/alerts/rules/{rule_id}", delete_alert_rule, "deleteAlertRule", "Delete an alert rule", TAG,
              status=204, parameters=(RULE_ID,), response_description="Deleted",
              description="Deliveries already queued are still sent."),
]
