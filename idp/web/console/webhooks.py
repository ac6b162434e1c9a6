"""Webhook endpoints: add one (its signing secret shown once), send a test notification, enable one that was
disabled, delete. ``analytics.alerts`` checks and stores them and signs what is sent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from analytics.alerts import (
    EndpointChanges,
    Outcome,
    WebhookEndpoint,
    create_webhook_endpoint,
    delete_webhook_endpoint,
    enable_webhook_endpoint,
    generate_webhook_secret,
    get_webhook_endpoint,
    send_test_notification,
    update_webhook_endpoint,
    webhook_endpoints_page,
)
from idp.alerting import alert_settings
from idp.web.console.auth import Operator
from idp.web.console.pages import Form, Refused, action, done, look, page, render, whole_number, work
from idp.web.context import canary


@dataclass
class Tested:
    endpoint: WebhookEndpoint
    outcome: Outcome


def _all(db: Session) -> list[WebhookEndpoint]:
    return webhook_endpoints_page(db)[0]


async def show(request: Request, op: Operator, *, error: str = "", status: int = 200,
               form: Form | None = None, tested: Tested | None = None) -> Response:
    endpoints = await look(canary(request), _all)
    return render(request, op, "console/webhooks.html",
                  {"section": "webhooks", "endpoints": endpoints, "form": form, "tested": tested},
                  error=error, status=status)


def _endpoint_id(request: Request) -> int:
    value = request.path_params["webhook_id"]
    number = whole_number(value)
    if number is None:
        raise Refused(f"no webhook endpoint {value!r}", 404)
    return number


def _create(db: Session, url: str, description: str, clock: Callable[[], datetime],
            allow_private: bool, format_: str) -> WebhookEndpoint:
    return create_webhook_endpoint(db, url, None, description, clock, allow_private=allow_private,
                                   format_=format_)


@action(show)
async def create(request: Request, op: Operator, form: Form) -> Response:
    c = canary(request)
    endpoint = await work(c, _create, form.get("url").strip(), form.get("description").strip(), c.clock.now,
                          c.settings.webhook_allow_private, form.get("format").strip() or "standard")
    return render(request, op, "console/webhook_secret.html", {"section": "webhooks", "endpoint": endpoint},
                  status=201)


@action(show)
async def test(request: Request, op: Operator, form: Form) -> Response:
    """Send a signed test message now and show how the receiver answered."""
    c = canary(request)
    endpoint = await look(c, get_webhook_endpoint, _endpoint_id(request))
    outcome = await c.run(send_test_notification, endpoint, alert_settings(c.settings), c.clock.now())
    return await show(request, op, tested=Tested(endpoint, outcome))


async def show_endpoint(request: Request, op: Operator, *, error: str = "", status: int = 200,
                        form: Form | None = None) -> Response:
    endpoint = await look(canary(request), get_webhook_endpoint, _endpoint_id(request))
    return render(request, op, "console/webhook.html", {"section": "webhooks", "endpoint": endpoint, "form": form},
                  error=error, status=status)


def _update(db: Session, endpoint_id: int, changes: EndpointChanges, allow_private: bool) -> None:
    update_webhook_endpoint(db, endpoint_id, changes, allow_private=allow_private)


@action(show_endpoint)
async def update(request: Request, op: Operator, form: Form) -> Response:
    endpoint_id = _endpoint_id(request)
    c = canary(request)
    changes: EndpointChanges = {"url": form.get("url").strip(), "description": form.get("description").strip()}
    if form.has("format"):  # a form without the field leaves the format as it is
        changes["format"] = form.get("format").strip()
    await work(c, _update, endpoint_id, changes, c.settings.webhook_allow_private)
    return done(f"/console/webhooks/{endpoint_id}", "webhook-updated")


def _rotate(db: Session, endpoint_id: int) -> WebhookEndpoint:
    return update_webhook_endpoint(db, endpoint_id, {"secret": generate_webhook_secret()})


@action(show_endpoint)
async def rotate(request: Request, op: Operator, form: Form) -> Response:
    """A new signing secret, in force for the next attempt at once; shown on this answer only."""
    endpoint = await work(canary(request), _rotate, _endpoint_id(request))
    return render(request, op, "console/webhook_secret.html", {"section": "webhooks", "endpoint": endpoint,
                                                               "rotated": True})


def _enable(db: Session, endpoint_id: int) -> None:
    enable_webhook_endpoint(db, get_webhook_endpoint(db, endpoint_id))


@action(show)
async def enable(request: Request, op: Operator, form: Form) -> Response:
    await work(canary(request), _enable, _endpoint_id(request))
    return done("/console/webhooks", "webhook-enabled")


@action(show)
async def delete(request: Request, op: Operator, form: Form) -> Response:
    await work(canary(request), delete_webhook_endpoint, _endpoint_id(request))
    return done("/console/webhooks", "webhook-deleted")


webhooks = page(show)
webhook = page(show_endpoint)
