"""The activity operations' query parameters and response schemas, as the OpenAPI document shows them."""

from __future__ import annotations

from datetime import date

from analytics.queries import STATES
from idp.web.admin import paging
from idp.web.admin.routing import Parameter
from idp.web.admin.schemas import OPTIONAL_TIMESTAMP, TIMESTAMP, define, obj, string

TAG = "activity"

DEFAULT_DAYS = 30
EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)
MAX_TIMELINE = 200
MAX_TOP_EVENTS = 1000
MAX_INACTIVE_DAYS = 36500
UNAVAILABLE = ("Analytics is not configured on this provider (no ClickHouse), or ClickHouse cannot be reached; "
               "retry later.")


# --- parameters --------------------------------------------------------------------------------------------
def _date_parameter(name: str, description: str) -> Parameter:
    return Parameter(name, "query", {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
                     description)


START = _date_parameter("start", "first UTC day of the range, included (YYYY-MM-DD); default: `end` - 30 days")
END = _date_parameter("end", "UTC day after the range, excluded (YYYY-MM-DD); default: tomorrow, so that the "
                             "range ends with today")
ORGANIZATION_FILTER = Parameter("organization", "query", {"type": "string", "minLength": 1, "maxLength": 100},
                                "only this organization (id or slug); an unknown one is a 400")
GRANULARITY = Parameter("granularity", "query", {"type": "string", "enum": ["day", "week", "month"],
                                                 "default": "day"},
                        "calendar days, ISO weeks (from Monday) or calendar months, UTC")
DAYS = Parameter("days", "query", {"type": "integer", "minimum": 1, "maximum": MAX_INACTIVE_DAYS, "default": 14},
                 "how many whole days without activity make an account inactive")
CURSOR = Parameter("cursor", "query", {"type": "string", "minLength": 1, "maxLength": 200},
                   "`next_cursor` of the previous page")
TIMELINE_LIMIT = Parameter("limit", "query", {"type": "integer", "minimum": 1, "maximum": MAX_TIMELINE,
                                              "default": paging.DEFAULT_LIMIT}, "how many events to return at most")
TOP_LIMIT = Parameter("limit", "query", {"type": "integer", "minimum": 1, "maximum": MAX_TOP_EVENTS, "default": 50},
                      "how many event names to return at most")
TIMELINE_START = _date_parameter("start", "only events on or after this UTC day (YYYY-MM-DD)")
TIMELINE_END = _date_parameter("end", "only events before this UTC day (YYYY-MM-DD)")

# --- response schemas ---------------------------------------------------------------------------------------
COUNT = {"type": "integer", "minimum": 0}
DAY = {"type": "string", "format": "date"}
ORGANIZATION_ID = {"type": ["string", "null"], "description": "the organization filtered on (its id), or null"}
ORGANIZATION_BRIEF = define("OrganizationBrief", obj({"id": string(), "slug": string()}))

RHYTHM = define("Rhythm", obj({
    "active_days": {**COUNT, "description": "active days in the history the rhythm is learned from"},
    "days_per_week": {"type": "number", "minimum": 0, "maximum": 7,
                      "description": "active days per week from its first to its last active day of the history"},
    "weekdays_only": {"type": "boolean", "description": "keeps to Monday to Friday: gaps and silence count weekdays"},
    "usual_gap": {"type": "integer", "minimum": 1, "description": "median days (weekdays) from one active day to "
                  "the next"},
    "high_gap": {"type": "integer", "minimum": 1, "description": "the high percentile of those gaps"},
    "quiet_after": {"type": "integer", "minimum": 1, "description": "the silence, in the same unit, that counts as "
                    "going quiet"},
}, description="how often the account is usually active; null when it has too little history"))
ASSESSMENT_FIELDS = {
    "state": string("`inactive`: past the fixed threshold; `going_quiet`: silent well beyond its usual gaps; "
                    "`slowing`: recent rate well below its own baseline; `active`", enum=list(STATES)),
    "score": {"type": "number", "minimum": 0, "description": "the silence as a share of the silence that counts "
              "as going quiet (1 or more: beyond it), or for a drop in rate 0.99 times the share of the usual "
              "rate lost"},
    "explanation": string("one sentence, e.g. \"usually active 4 days a week; silent for 6 days, …\""),
    "silent_days": {**COUNT, "description": "whole UTC days since the last active day (0: active today)"},
    "rhythm": {"oneOf": [RHYTHM, {"type": "null"}]},
}
ACCOUNT_RHYTHM = define("AccountRhythm", obj(ASSESSMENT_FIELDS, description="the account's state by its own "
                                                                             "rhythm; null when never active"))
ACCOUNT_ACTIVITY = define("AccountActivity", obj({
    "account_id": string(),
    "first_seen": {**OPTIONAL_TIMESTAMP, "description": "first activity: a sign-in, a token issued or refreshed, "
                   "or a usage event posted by a resource server"},
    "last_sign_in": {**OPTIONAL_TIMESTAMP, "description": "last successful sign-in"},
    "last_event": {**OPTIONAL_TIMESTAMP, "description": "last usage event posted by a resource server"},
    "last_seen": {**OPTIONAL_TIMESTAMP, "description": "last activity"},
    "active_days_7d": {**COUNT, "maximum": 7, "description": "UTC days with activity among the last 7, today "
                       "included"},
    "active_days_30d": {**COUNT, "maximum": 30, "description": "UTC days with activity among the last 30"},
    "events_by_name": {"type": "object", "additionalProperties": COUNT,
                       "description": "every event recorded for the account, counted by name"},
    "clients": {"type": "array", "items": string(), "description": "client_ids the account's events came "
                "through"},
    "rhythm": {"oneOf": [ACCOUNT_RHYTHM, {"type": "null"}], "description": "its state by its own rhythm (see "
               "`listAtRiskAccounts`); null when never active"},
    "as_of": {**TIMESTAMP, "description": "when the numbers were computed"},
}, description="one account's activity"))

TIMELINE_EVENT = define("TimelineEvent", obj({
    "event_id": string(format="uuid"),
    "name": string(),
    "timestamp": TIMESTAMP,
    "client_id": string("empty when none"),
    "organization": string("the organization id recorded with the event; empty when none"),
    "source": string("`idp` for the provider's own events, `api` for those posted by resource servers",
                     enum=["idp", "api"]),
    "properties": {"description": "the event's properties as recorded (a JSON object)"},
}))
TIMELINE = define("Timeline", obj({
    "items": {"type": "array", "items": TIMELINE_EVENT, "description": "newest first"},
    "next_cursor": {"type": ["string", "null"], "description": "pass as `cursor` for the next (older) page; "
                    "null on the last page"},
    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_TIMELINE},
}))

ACTIVE_USERS_DAY = define("ActiveUsersDay", obj({
    "day": DAY,
    "dau": {**COUNT, "description": "accounts active on the day"},
    "wau": {**COUNT, "description": "accounts active in the 7 days ending with the day"},
    "mau": {**COUNT, "description": "accounts active in the 30 days ending with the day"},
    "stickiness": {"type": "number", "minimum": 0, "maximum": 1, "description": "dau / mau; 0 when mau is 0"},
}))
ACTIVE_USERS = define("ActiveUsers", obj({
    "organization": ORGANIZATION_ID, "start": DAY, "end": DAY,
    "days": {"type": "array", "items": ACTIVE_USERS_DAY, "description": "one per day of the range"},
}))

LIFECYCLE_PERIOD = define("LifecyclePeriod", obj({
    "period_start": DAY,
    "new": {**COUNT, "description": "first activity ever in the period"},
    "returning": {**COUNT, "description": "active in the period and in the one before"},
    "resurrecting": {**COUNT, "description": "active in the period, not in the one before, but some time earlier"},
    "dormant": {"type": "integer", "maximum": 0, "description": "minus the accounts active in the period before "
                "and not in this one"},
}))
LIFECYCLE = define("Lifecycle", obj({
    "granularity": string(enum=["day", "week", "month"]),
    "organization": ORGANIZATION_ID, "start": DAY, "end": DAY,
    "periods": {"type": "array", "items": LIFECYCLE_PERIOD,
                "description": "every whole period that overlaps the range, oldest first"},
}))

INACTIVE_ACCOUNT = define("InactiveAccount", obj({
    "account_id": string(),
    "email": {"type": ["string", "null"]},
    "name": {"type": ["string", "null"]},
    "organizations": {"type": "array", "items": ORGANIZATION_BRIEF},
    "created_at": TIMESTAMP,
    "last_seen": {"type": ["string", "null"], "format": "date", "description": "last UTC day with activity; null "
                  "when never active"},
    "inactive_days": {**COUNT, "description": "whole days since `last_seen`, or since the account was created"},
}))
INACTIVE_PAGE = paging.page_of("InactiveAccountPage", INACTIVE_ACCOUNT)

ORGANIZATION_HEALTH = define("OrganizationHealth", obj({
    "organization": ORGANIZATION_BRIEF,
    "members": COUNT,
    "active_7d": {**COUNT, "description": "members active in the last 7 days"},
    "active_30d": {**COUNT, "description": "members active in the last 30 days"},
    "inactive": {**COUNT, "description": "members inactive for 30 days or more (never-active members created 30 "
                 "or more days ago included)"},
    "previous_active_30d": {**COUNT, "description": "members active in the 30 days before the last 30"},
    "trend": {"type": "integer", "description": "active_30d - previous_active_30d"},
    "trend_ratio": {"type": ["number", "null"], "description": "active_30d / previous_active_30d - 1; null when "
                    "nobody was active in the previous period"},
    "as_of": TIMESTAMP,
}))

EVENT_USAGE = define("EventUsage", obj({
    "name": string(),
    "events": {**COUNT, "description": "how many events of this name"},
    "accounts": {**COUNT, "description": "how many accounts posted it"},
    "adoption": {"type": "number", "minimum": 0, "maximum": 1,
                 "description": "accounts / the accounts with any usage event in the range"},
}))
TOP_EVENTS = define("TopEvents", obj({
    "organization": ORGANIZATION_ID, "start": DAY, "end": DAY,
    "accounts": {**COUNT, "description": "accounts with any usage event in the range"},
    "items": {"type": "array", "items": EVENT_USAGE, "description": "most frequent first"},
}))


