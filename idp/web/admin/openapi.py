"""The admin API's OpenAPI 3.1 document, built from the same ``Operation`` list that builds the routes."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from idp.web.admin import schemas
from idp.web.admin.routing import PREFIX, Operation, Parameter
from idp.web.context import canary

MOUNT = "/admin/api"
DOCUMENT_PATH = "/openapi.json"
TITLE = "Canary admin API"
VERSION = "1.0.0"
DESCRIPTION = """\
Manage Canary's accounts, organizations, memberships and clients; read activity (summaries, timelines,
DAU/WAU/MAU, lifecycle, inactive accounts, organization health, top events); manage inactivity alert rules,
webhook endpoints and deliveries.

Every call needs an access token of an **admin client** (`canary clients create NAME --admin`), obtained from
the token endpoint with the `client_credentials` grant: it carries the `admin` scope. A user's token is never
accepted, and a client that is demoted or deleted loses access at once.

Bodies are JSON. Errors are `{"error", "error_description", "field"}`, where `field` names the request field
at fault (`email`, `organizations[0].role`, `limit`, or `body` for the body as a whole). Unknown fields are
refused, and strings must not contain NUL characters. Lists are paged with `offset` and `limit`.
"""

_ERRORS = {
    400: "The request is malformed: a field, a parameter, the body or the Authorization header (`field` "
         "says which).",
    401: "No usable access token: missing, malformed, expired, revoked, or its client was deleted.",
    403: "The token is valid but not an admin client's client_credentials token (insufficient_scope).",
    404: "No such resource.",
    409: "Conflicts with existing data (an e-mail address or slug in use).",
    413: "The body is too large.",
    503: "The accounts database is unavailable; retry later.",
}
_CHALLENGE = {"WWW-Authenticate": {"description": "the RFC 6750 bearer challenge", "schema": {"type": "string"}}}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _parameter(param: Parameter) -> dict[str, Any]:
    return {"name": param.name, "in": param.location, "required": param.required or param.location == "path",
            "description": param.description, "schema": param.schema}


def _responses(op: Operation) -> dict[str, Any]:
    success: dict[str, Any] = {"description": op.response_description}
    if op.response is not None:
        success["content"] = _json(op.response)
    out: dict[str, Any] = {str(op.status): success}
    statuses = [400, 401, 403]
    if op.has_path_parameters:
        statuses.append(404)
    if op.conflict:
        statuses.append(409)
    if op.body is not None:
        statuses.append(413)
    statuses.append(503)
    for status in sorted({*statuses, *op.errors}):
        response: dict[str, Any] = {"description": op.errors.get(status, _ERRORS.get(status, "Error")),
                                    "content": _json(schemas.ERROR)}
        if status in (401, 403):
            response["headers"] = _CHALLENGE
        out[str(status)] = response
    return out


def _operation(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary, "tags": [op.tag]}
    if op.description:
        out["description"] = op.description
    if op.parameters:
        out["parameters"] = [_parameter(p) for p in op.parameters]
    if op.body is not None:
        out["requestBody"] = {"required": True, "content": _json(op.body)}
    out["responses"] = _responses(op)
    return out


def document(operations: Sequence[Operation], server: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {
        MOUNT + DOCUMENT_PATH: {"get": {
            "operationId": "getOpenApiDocument", "summary": "This document", "tags": ["meta"], "security": [],
            "responses": {"200": {"description": "The OpenAPI document", "content": _json({"type": "object"})}},
        }},
    }
    tags: list[str] = []
    for op in operations:
        paths.setdefault(MOUNT + PREFIX + op.path, {})[op.method.lower()] = _operation(op)
        if op.tag not in tags:
            tags.append(op.tag)
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {"title": TITLE, "version": VERSION, "description": DESCRIPTION},
        "servers": [{"url": server}],
        "tags": [{"name": tag} for tag in [*tags, "meta"]],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": copy.deepcopy(schemas.COMPONENTS),
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "an admin client's access token from the token endpoint (client_credentials "
                               "grant, scope `admin`)",
            }},
        },
    }


def endpoint(operations: Sequence[Operation]) -> Callable[[Request], Any]:
    """GET /admin/api/openapi.json, unauthenticated; built once per issuer."""
    built: dict[str, dict[str, Any]] = {}

    async def serve(request: Request) -> Response:
        issuer = canary(request).settings.issuer
        if issuer not in built:
            built[issuer] = document(operations, issuer)
        return JSONResponse(built[issuer])

    return serve
