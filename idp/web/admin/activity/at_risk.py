"""/admin/api/v1 early warning: accounts at risk by their own rhythm, and an organization's engagement.

The model's parameters are the provider's `CANARY_CHURN_*` settings (docs/early-warning.md).
"""

from __future__ import annotations

from typing import Any

from analytics.queries import AT_RISK, at_risk_accounts, organization_engagement
from idp.directory import SqlAccountDirectory
from idp.web.admin import organizations, paging
from idp.web.admin.activity.handlers import _analytics, _organization, _query, _slugs
from idp.web.admin.activity.rhythm import churn_model, rhythm_dict
from idp.web.admin.activity.schemas import (
    ASSESSMENT_FIELDS,
    COUNT,
    ORGANIZATION_BRIEF,
    ORGANIZATION_FILTER,
    TAG,
    UNAVAILABLE,
)
from idp.web.admin.routing import Call, Operation
from idp.web.admin.schemas import TIMESTAMP, define, obj, string

SHARE = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
AT_RISK_ACCOUNT = define("AtRiskAccount", obj({
    "account_id": string(),
    "email": {"type": ["string", "null"]},
    "name": {"type": ["string", "null"]},
    "organizations": {"type": "array", "items": ORGANIZATION_BRIEF},
    "last_seen": {"type": "string", "format": "date", "description": "last UTC day with activity"},
    **ASSESSMENT_FIELDS,
}))
AT_RISK_PAGE = paging.page_of("AtRiskAccountPage", AT_RISK_ACCOUNT)
ENGAGEMENT = define("OrganizationEngagement", obj({
    "organization": ORGANIZATION_BRIEF,
    "members": COUNT,
    "signed_in": {**COUNT, "description": "members who ever signed in"},
    "seat_uptake": {**SHARE, "description": "signed_in / members; null without members"},
    "active_this_week": {**COUNT, "description": "members active in the 7 UTC days ending today"},
    "share_this_week": {**SHARE, "description": "active_this_week / members"},
    "trailing_share": {**SHARE, "description": "mean share of members active in each of the four weeks before"},
    "change": {"type": ["number", "null"], "description": "share_this_week / trailing_share - 1; null when the "
               "trailing share is 0"},
    "declining": {"type": "boolean", "description": "change at or below -decline_fraction"},
    "decline_fraction": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1,
                         "description": "CANARY_CHURN_DECLINE_FRACTION"},
    "as_of": TIMESTAMP,
}))


def list_at_risk(call: Call) -> dict[str, Any]:
    engine = _analytics(call)
    org = _organization(call.db, call)
    found = _query(at_risk_accounts, engine, SqlAccountDirectory(call.c.factory), call.c.clock.now(),
                   churn_model(call.c.settings), org)
    offset, limit = paging.window(call)
    window = found[offset:offset + limit]
    slugs = _slugs(call.db, {o for account in window for o in account.organizations})
    items = []
    for account in window:
        memberships = sorted(({"id": o, "slug": slugs[o]} for o in account.organizations if o in slugs),
                             key=lambda m: m["slug"])
        items.append({"account_id": account.sub, "email": account.email, "name": account.name,
                      "organizations": memberships, "last_seen": account.last_seen.isoformat(),
                      **rhythm_dict(account.assessment)})
    return paging.page(call, items, len(found))


def get_organization_engagement(call: Call) -> dict[str, Any]:
    engine = _analytics(call)
    org = organizations.find(call.db, call.path["organization"])
    now = call.c.clock.now()
    found = _query(organization_engagement, engine, SqlAccountDirectory(call.c.factory), org.id, now,
                   call.c.settings.churn_decline_fraction)
    return {
        "organization": {"id": org.id, "slug": org.slug}, "members": found.members, "signed_in": found.signed_in,
        "seat_uptake": found.seat_uptake, "active_this_week": found.active_this_week,
        "share_this_week": found.share_this_week, "trailing_share": found.trailing_share, "change": found.change,
        "declining": found.declining, "decline_fraction": found.decline_fraction, "as_of": now.isoformat(),
    }


_ERRORS = {503: UNAVAILABLE}

OPERATIONS = [
    Operation("GET", "/activity/at-risk", list_at_risk, "listAtRiskAccounts", "Accounts at risk", TAG, AT_RISK_PAGE,
              parameters=(ORGANIZATION_FILTER, *paging.PARAMETERS),
              errors={**_ERRORS, 400: "An unknown organization (`field` says which)."},
              description=f"Accounts {' or '.join(f'`{s}`' for s in AT_RISK)} by their own rhythm, highest score "
                          "first, each with a sentence explaining why. Accounts silent past the fixed threshold "
                          "(`CANARY_CHURN_INACTIVE_DAYS`) are in the inactive-accounts list instead; accounts "
                          "never active have no rhythm."),
    Operation("GET", "/organizations/{organization}/engagement", get_organization_engagement,
              "getOrganizationEngagement", "An organization's seat uptake and weekly engagement", TAG, ENGAGEMENT,
              parameters=(organizations.ORGANIZATION,), errors=_ERRORS,
              description="Members who ever signed in, and the share of members active in the 7 UTC days ending "
                          "today against the four weeks before; declining when that share fell by "
                          "`CANARY_CHURN_DECLINE_FRACTION` or more."),
]
