"""Activity queries over ClickHouse: per account, active users, lifecycle, inactivity, adoption.

Activity is a day set in `account_activity` (per account and UTC month, a mask of active days): a
sign-in, a token issued or refreshed, or a usage event posted by a resource server. DAU/WAU/MAU read the
same days from `account_windows` (per account and month, the month and the 32 days before it). Account metrics
filter an organization by membership (from the `AccountDirectory`); event metrics (`top_events`) filter
on the organization recorded with each event.
Ranges are UTC dates `[start, end)`, at most 400 days. Bad inputs raise `QueryError(field, message)`.
"""

from analytics.queries.accounts import (
    AccountSummary,
    TimelineEvent,
    TimelinePage,
    account_summary,
    account_timeline,
)
from analytics.queries.active import ActiveUsers, ActiveUsersDay, active_users
from analytics.queries.adoption import EventUsage, TopEvents, top_events
from analytics.queries.at_risk import (
    AT_RISK,
    AtRiskAccount,
    AtRiskAccounts,
    account_assessment,
    at_risk_accounts,
    score_accounts,
)
from analytics.queries.errors import QueryError
from analytics.queries.health import OrganizationHealth, organization_health
from analytics.queries.inactive import InactiveAccount, inactive_accounts
from analytics.queries.lifecycle import Granularity, Lifecycle, LifecyclePeriod, lifecycle
from analytics.queries.params import MAX_RANGE_DAYS
from analytics.queries.rhythm import ChurnModel, Rhythm, rhythm_of
from analytics.queries.risk import STATES, Assessment, State, assess
from analytics.queries.scoring import ScoredAccounts, read_scores
from analytics.queries.seats import (
    DEFAULT_DECLINE_FRACTION,
    OrganizationEngagement,
    engagement_by_organization,
    organization_engagement,
)
from analytics.queries.sql import Executor
from analytics.queries.windows import Windows, read_windows

__all__ = [
    "AT_RISK",
    "DEFAULT_DECLINE_FRACTION",
    "MAX_RANGE_DAYS",
    "STATES",
    "AccountSummary",
    "ActiveUsers",
    "ActiveUsersDay",
    "Assessment",
    "AtRiskAccount",
    "AtRiskAccounts",
    "ChurnModel",
    "EventUsage",
    "Executor",
    "Granularity",
    "InactiveAccount",
    "Lifecycle",
    "LifecyclePeriod",
    "OrganizationEngagement",
    "OrganizationHealth",
    "QueryError",
    "Rhythm",
    "ScoredAccounts",
    "State",
    "TimelineEvent",
    "TimelinePage",
    "TopEvents",
    "Windows",
    "account_assessment",
    "account_summary",
    "account_timeline",
    "active_users",
    "assess",
    "at_risk_accounts",
    "engagement_by_organization",
    "inactive_accounts",
    "lifecycle",
    "organization_engagement",
    "organization_health",
    "read_scores",
    "read_windows",
    "rhythm_of",
    "score_accounts",
    "top_events",
]
