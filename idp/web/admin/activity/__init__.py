"""/admin/api/v1 activity: who is using the product, read from ClickHouse (``analytics.queries``).

Account metrics (summary, active users, lifecycle, inactivity, organization health) filter an organization
by membership; top events filter on the organization recorded with each event. Date ranges are UTC days,
``start`` included and ``end`` excluded, at most 400 days; without them the last 30 days up to and including
today. The queries are synchronous: like every handler they run off the event loop.
"""

from __future__ import annotations

from analytics.queries import MAX_RANGE_DAYS
from idp.web.admin import organizations, paging
from idp.web.admin.accounts import ACCOUNT_ID
from idp.web.admin.activity import at_risk
from idp.web.admin.activity.handlers import (
    get_account_activity,
    get_account_timeline,
    get_active_users,
    get_lifecycle,
    get_organization_health,
    get_top_events,
    list_inactive,
)
from idp.web.admin.activity.schemas import (
    ACCOUNT_ACTIVITY,
    ACTIVE_USERS,
    CURSOR,
    DAYS,
    END,
    GRANULARITY,
    INACTIVE_PAGE,
    LIFECYCLE,
    ORGANIZATION_FILTER,
    ORGANIZATION_HEALTH,
    START,
    TAG,
    TIMELINE,
    TIMELINE_END,
    TIMELINE_LIMIT,
    TIMELINE_START,
    TOP_EVENTS,
    TOP_LIMIT,
    UNAVAILABLE,
)
from idp.web.admin.routing import Operation

_ERRORS = {503: UNAVAILABLE}
_RANGE_ERRORS = {**_ERRORS, 400: "A malformed parameter, a range whose start is after its end or that exceeds "
                                 f"{MAX_RANGE_DAYS} days, or an unknown organization (`field` says which)."}

OPERATIONS = [
    Operation("GET", "/accounts/{account_id}/activity", get_account_activity, "getAccountActivity",
              "An account's activity", TAG, ACCOUNT_ACTIVITY, parameters=(ACCOUNT_ID,), errors=_ERRORS,
              description="First and last activity, last sign-in, last usage event, active days in the last 7 "
                          "and 30 UTC days, events by name and the clients used."),
    Operation("GET", "/accounts/{account_id}/timeline", get_account_timeline, "getAccountTimeline",
              "An account's events", TAG, TIMELINE,
              parameters=(ACCOUNT_ID, CURSOR, TIMELINE_LIMIT, TIMELINE_START, TIMELINE_END), errors=_ERRORS,
              description="Every event of the account, newest first. Pass `next_cursor` back as `cursor` for "
                          "older events; pages neither shift nor repeat when new events arrive."),
    Operation("GET", "/activity/active-users", get_active_users, "getActiveUsers", "DAU, WAU and MAU", TAG,
              ACTIVE_USERS, parameters=(START, END, ORGANIZATION_FILTER), errors=_RANGE_ERRORS,
              description="For each day of the range, the accounts active that day (DAU), in the 7 days (WAU) "
                          "and in the 30 days (MAU) ending with it, and stickiness (DAU / MAU). Activity is a "
                          "sign-in, a token issued or refreshed, or a usage event posted by a resource server."),
    Operation("GET", "/activity/lifecycle", get_lifecycle, "getLifecycle", "New, returning, resurrecting and "
              "dormant accounts", TAG, LIFECYCLE, parameters=(START, END, GRANULARITY, ORGANIZATION_FILTER),
              errors=_RANGE_ERRORS,
              description="Per day, week or month: accounts active for the first time ever, active again after "
                          "the previous period, back after a pause, and gone quiet since the previous period."),
    Operation("GET", "/activity/inactive", list_inactive, "listInactiveAccounts", "Inactive accounts", TAG,
              INACTIVE_PAGE, parameters=(DAYS, ORGANIZATION_FILTER, *paging.PARAMETERS), errors=_ERRORS,
              description="Accounts without activity for `days` whole UTC days or more, longest inactive first; "
                          "accounts never active count from their creation."),
    Operation("GET", "/organizations/{organization}/health", get_organization_health, "getOrganizationHealth",
              "An organization's health", TAG, ORGANIZATION_HEALTH, parameters=(organizations.ORGANIZATION,),
              errors=_ERRORS,
              description="Members, members active in the last 7 and 30 days, members inactive for 30 days or "
                          "more, and the trend against the 30 days before."),
    Operation("GET", "/activity/top-events", get_top_events, "getTopEvents", "Most used features", TAG, TOP_EVENTS,
              parameters=(START, END, ORGANIZATION_FILTER, TOP_LIMIT), errors=_RANGE_ERRORS,
              description="Usage events posted by resource servers, by name: how many, by how many accounts, and "
                          "their adoption. The organization filter applies to the organization recorded with "
                          "each event."),
    *at_risk.OPERATIONS,
]
