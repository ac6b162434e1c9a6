"""The admin API (JSON) under /admin/api: v1 operations and their OpenAPI document.

Add a module's ``OPERATIONS`` to the list below; its routes and its part of the document follow.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Mount, Route

from idp.web.admin import accounts, activity, alerts, clients, factors, openapi, organizations, routing
from idp.web.admin.routing import Operation, not_found
from idp.web.admin.routing import routes as operation_routes

OPERATIONS: list[Operation] = [
    *accounts.OPERATIONS,
    *organizations.OPERATIONS,
    *clients.OPERATIONS,
    *activity.OPERATIONS,
    *alerts.OPERATIONS,
    *factors.OPERATIONS,
]

routes: list[BaseRoute] = [
    Mount(openapi.MOUNT, routes=[
        Route(openapi.DOCUMENT_PATH, openapi.endpoint(OPERATIONS), methods=["GET"]),
        *operation_routes(OPERATIONS),
        Route("/{rest:path}", not_found, methods=routing.METHODS),
    ]),
]
