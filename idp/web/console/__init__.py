"""The operator console: server-rendered pages under /console for administrators signed in through Canary.

Each page calls the domain's owners (``idp.accounts``, ``idp.oauth.clients``, ``idp.oauth.account_status``,
``analytics.alerts``, ``analytics.queries``) as the admin API does; forms carry a CSRF token; styles and
scripts are static files under /console/static (no inline code).
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from idp.web.console import (
    alerts,
    clients,
    deliveries,
    home,
    organizations,
    overview,
    settings,
    users,
    webhooks,
)
from idp.web.console.pages import HERE

POST = ["POST"]

routes: list[BaseRoute] = [
    Route("/", home.home, methods=["GET"]),
    Route("/console", overview.overview, methods=["GET"]),
    Route("/console/users", users.users, methods=["GET"]),
    Route("/console/users/{user_id}", users.user, methods=["GET"]),
    Route("/console/users/{user_id}/disable", users.disable, methods=POST),
    Route("/console/users/{user_id}/enable", users.enable, methods=POST),
    Route("/console/users/{user_id}/factors/reset", users.reset_second_factors, methods=POST),
    Route("/console/organizations", organizations.organizations, methods=["GET"]),
    Route("/console/organizations", organizations.create, methods=POST),
    Route("/console/organizations/{org}", organizations.organization, methods=["GET"]),
    Route("/console/organizations/{org}", organizations.update, methods=POST),
    Route("/console/organizations/{org}/delete", organizations.delete, methods=POST),
    Route("/console/organizations/{org}/members", organizations.put_member, methods=POST),
    Route("/console/organizations/{org}/members/remove", organizations.remove_member, methods=POST),
    Route("/console/organizations/{org}/second-factor", organizations.second_factor_policy, methods=POST),
    Route("/console/clients", clients.clients, methods=["GET"]),
    Route("/console/clients", clients.create, methods=POST),
    Route("/console/clients/{client_id}", clients.client, methods=["GET"]),
    Route("/console/clients/{client_id}", clients.update, methods=POST),
    Route("/console/clients/{client_id}/secret", clients.rotate, methods=POST),
    Route("/console/clients/{client_id}/delete", clients.delete, methods=POST),
    Route("/console/alerts", alerts.alerts, methods=["GET"]),
    Route("/console/alerts", alerts.create, methods=POST),
    Route("/console/alerts/{rule_id}", alerts.rule, methods=["GET"]),
    Route("/console/alerts/{rule_id}", alerts.update, methods=POST),
    Route("/console/alerts/{rule_id}/enabled", alerts.toggle, methods=POST),
    Route("/console/alerts/{rule_id}/delete", alerts.delete, methods=POST),
    Route("/console/webhooks", webhooks.webhooks, methods=["GET"]),
    Route("/console/webhooks", webhooks.create, methods=POST),
    Route("/console/webhooks/{webhook_id}", webhooks.webhook, methods=["GET"]),
    Route("/console/webhooks/{webhook_id}", webhooks.update, methods=POST),
    Route("/console/webhooks/{webhook_id}/secret", webhooks.rotate, methods=POST),
    Route("/console/webhooks/{webhook_id}/test", webhooks.test, methods=POST),
    Route("/console/webhooks/{webhook_id}/enable", webhooks.enable, methods=POST),
    Route("/console/webhooks/{webhook_id}/delete", webhooks.delete, methods=POST),
    Route("/console/deliveries", deliveries.deliveries, methods=["GET"]),
    Route("/console/settings", settings.settings, methods=["GET"]),
    Mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static"),
]
