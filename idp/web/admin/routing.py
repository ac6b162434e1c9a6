"""Operations of the admin API, and the one pipeline every request goes through.

An ``Operation`` declares method, path, parameters, body and response schemas and a handler. The same list
builds the Starlette routes and the OpenAPI document (``idp.web.admin.openapi``), so they cannot disagree.

Each request: admin token → path, query and body checked against their schemas → the handler, run off the
event loop in one database transaction → JSON. Service errors become 400/404/409 here, never 500. HEAD is
answered wherever GET is, as the GET without its body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from analytics.alerts import AlertConfigError, EndpointInUse, UnknownEndpoint, UnknownRule
from idp.accounts.errors import AccountError, EmailTaken
from idp.accounts.errors import NotFound as AccountNotFound
from idp.accounts.password_rules import WeakPassword
from idp.db import transaction
from idp.oauth.clients import InvalidClientField
from idp.oauth.errors import ClientRegistrationError
from idp.oauth.server import BodyTooLarge, read_body
from idp.web.admin import auth, schemas
from idp.web.admin.errors import ApiError, BadRequest, Conflict, MethodNotAllowed, NotFound, TooLarge
from idp.web.admin.validation import Invalid, check_supported, shown, validate
from idp.web.context import Canary, canary
from idp.web.responses import NO_STORE

PREFIX = "/v1"
# Every method reaches the endpoint, so that an undeclared one gets a JSON 405 rather than Starlette's text.
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_PATH_PARAM = re.compile(r"{([a-z_]+)}")
_INTEGER = re.compile(r"-?[0-9]{1,18}")  # matched in full: "$" would let "1\n" through


@dataclass(frozen=True)
class Parameter:
    """A path or query parameter (query values arrive as strings; integer schemas are parsed first)."""

    name: str
    location: str
    schema: dict[str, Any]
    description: str
    required: bool = False


@dataclass
class Call:
    """What a handler gets: the validated request, and a database session inside a transaction."""

    c: Canary
    db: Session
    claims: dict[str, Any]
    path: dict[str, str]
    query: dict[str, Any]
    body: Any


Handler = Callable[[Call], Any]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    handler: Handler
    operation_id: str
    summary: str
    tag: str
    response: dict[str, Any] | None = None
    status: int = 200
    body: dict[str, Any] | None = None
    parameters: tuple[Parameter, ...] = ()
    conflict: bool = False
    description: str = ""
    response_description: str = "OK"
    errors: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        declared = {p.name for p in self.parameters if p.location == "path"}
        if declared != set(_PATH_PARAM.findall(self.path)):
            raise ValueError(f"{self.operation_id}: path parameters do not match {self.path}")
        for schema in [self.body, *(p.schema for p in self.parameters)]:
            if schema is not None:
                check_supported(schema, schemas.resolve)

    @property
    def has_path_parameters(self) -> bool:
        return any(p.location == "path" for p in self.parameters)


def _query(op: Operation, request: Request) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for param in op.parameters:
        if param.location != "query":
            continue
        given = request.query_params.getlist(param.name)
        if len(given) > 1:
            raise BadRequest(f"{param.name} is given more than once", param.name)
        if not given:
            if param.required:
                raise BadRequest(f"{param.name} is required", param.name)
            if "default" in param.schema:
                values[param.name] = param.schema["default"]
            continue
        value: Any = given[0]
        if param.schema.get("type") == "integer":
            if not _INTEGER.fullmatch(value):
                raise BadRequest(f"{param.name} must be an integer", param.name)
            value = int(value)
        try:
            validate(param.schema, value, schemas.resolve, param.name)
        except Invalid as err:
            raise BadRequest(f"{err.field} {err.message}", err.field) from err
        values[param.name] = value
    return values


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise BadRequest(f"{shown(key)} is given more than once", shown(key))
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def _body(op: Operation, c: Canary, request: Request) -> Any:
    if op.body is None:
        return None
    try:
        raw = await read_body(request, c.settings.max_body_bytes)
    except BodyTooLarge as err:
        raise TooLarge(f"the body may have at most {c.settings.max_body_bytes} bytes", "body") from err
    try:
        value = json.loads(raw, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise BadRequest("the body must be a JSON object", "body") from err
    try:
        validate(op.body, value, schemas.resolve)
    except Invalid as err:
        raise BadRequest(f"{err.field} {err.message}", err.field) from err
    return value


def _run(op: Operation, c: Canary, call: dict[str, Any]) -> Any:
    """The handler in one transaction; service errors as API errors."""
    try:
        with transaction(c.factory) as db:
            return op.handler(Call(c=c, db=db, **call))
    except AccountNotFound as err:
        raise NotFound(str(err)) from err
    except EmailTaken as err:
        raise Conflict(str(err), "email") from err
    except WeakPassword as err:
        raise BadRequest(str(err), "password") from err
    except AccountError as err:
        raise BadRequest(str(err)) from err
    except InvalidClientField as err:
        raise BadRequest(err.description, err.field) from err
    except ClientRegistrationError as err:
        raise BadRequest(err.description) from err
    except AlertConfigError as err:
        raise BadRequest(f"{err.field} {err.message}", err.field) from err
    except (UnknownRule, UnknownEndpoint) as err:
        raise NotFound(str(err)) from err
    except EndpointInUse as err:
        raise Conflict(str(err)) from err
    except IntegrityError as err:
        raise Conflict("the change conflicts with another one; reload and retry") from err
    except DataError as err:
        raise BadRequest("a value does not fit the database") from err


def _reply(status: int, body: Any) -> Response:
    if status == 204:
        return Response(status_code=204, headers=NO_STORE)
    return JSONResponse(body, status_code=status, headers=NO_STORE)


def _allowed(operations: dict[str, Operation]) -> dict[str, Operation]:
    """The methods a path answers: its operations, and HEAD as its GET (RFC 9110 §9.1, §9.3.2)."""
    allowed: dict[str, Operation] = {}
    for method, op in operations.items():
        allowed[method] = op
        if method == "GET":
            allowed["HEAD"] = op
    return allowed


def _without_content(response: Response) -> Response:
    """The answer to HEAD: the GET's status and headers (Content-Length and Content-Type included), no body."""
    head = Response(status_code=response.status_code)
    head.raw_headers = list(response.raw_headers)
    return head


def _endpoint(operations: dict[str, Operation]) -> Callable[[Request], Any]:
    allowed = _allowed(operations)
    allow = ", ".join(allowed)

    async def endpoint(request: Request) -> Response:
        response = await answer(request)
        return _without_content(response) if request.method == "HEAD" else response

    async def answer(request: Request) -> Response:
        op = allowed.get(request.method)
        if op is None:
            return MethodNotAllowed(f"{request.method} is not allowed here").response({"Allow": allow})
        c = canary(request)
        try:
            claims = await auth.authenticate(request)
        except auth.Refused as refused:
            return refused.response
        try:
            path = dict(request.path_params)
            if any("\x00" in value for value in path.values()):
                raise NotFound("no such resource")
            call = {"claims": claims, "path": path, "query": _query(op, request), "body": await _body(op, c, request)}
            result = await c.run(_run, op, c, call)
        except ApiError as err:
            return err.response()
        return _reply(op.status, result)

    return endpoint


def routes(operations: Sequence[Operation]) -> list[BaseRoute]:
    """One route per path; a method not declared there (nor HEAD where GET is) is a JSON 405."""
    by_path: dict[str, dict[str, Operation]] = {}
    for op in operations:
        methods = by_path.setdefault(op.path, {})
        if op.method in methods:
            raise ValueError(f"{op.method} {op.path} is declared twice")
        methods[op.method] = op
    out: list[BaseRoute] = []
    for path, methods in by_path.items():
        out.append(Route(PREFIX + path, _endpoint(methods), methods=METHODS))
    return out


async def not_found(request: Request) -> Response:
    return NotFound(f"no admin API resource at {request.url.path}").response()
