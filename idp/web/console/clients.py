"""OAuth clients: register, change names and redirect URIs, rotate the secret (shown once), delete.

Registration and changes go through ``idp.oauth.clients`` (its checks of redirect URIs and grant types), the
form's values first held to the admin API's schemas. Canary's own clients (the console's and the account
page's) are shown but not changed, given a secret or deleted here, as in the admin API: people sign in with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from idp.accounts.service import find_organization
from idp.oauth import clients as registry
from idp.oauth.models import Client
from idp.web.admin import schemas
from idp.web.admin.clients import DEFAULT_GRANTS, DEFAULT_SCOPE, unchangeable
from idp.web.console.auth import Operator
from idp.web.console.pages import Form, Refused, action, check, done, look, page, render, work
from idp.web.context import canary

# What the create form offers, as the admin API's fields.
KINDS: dict[str, dict[str, Any]] = {
    "web": {"label": "Web application (confidential, authorization code)", "public": False,
            "grant_types": DEFAULT_GRANTS, "scope": DEFAULT_SCOPE},
    "spa": {"label": "Single-page or native app (public, PKCE)", "public": True,
            "grant_types": DEFAULT_GRANTS, "scope": DEFAULT_SCOPE},
    "service": {"label": "Resource server or job (client credentials)", "public": False,
                "grant_types": ["client_credentials"], "scope": "events:write"},
}


@dataclass
class Created:
    client: Client
    secret: str | None
    rotated: bool = False


def _all(db: Session) -> list[Client]:
    return registry.list_clients(db)


async def show_list(request: Request, op: Operator, *, error: str = "", status: int = 200,
                    form: Form | None = None) -> Response:
    clients = await look(canary(request), _all)
    return render(request, op, "console/clients.html",
                  {"section": "clients", "clients": clients, "kinds": KINDS, "form": form,
                   "console_client": registry.DASHBOARD_CLIENT_ID, "default_scope": DEFAULT_SCOPE},
                  error=error, status=status)


def _find(db: Session, client_id: str, changing: bool = False) -> Client:
    client = db.get(Client, client_id)
    if client is None:
        raise Refused(f"no client {client_id!r}", 404)
    if changing and (why := unchangeable(client.client_id)) is not None:
        raise Refused(why, 409)
    return client


async def show_client(request: Request, op: Operator, *, error: str = "", status: int = 200,
                      form: Form | None = None) -> Response:
    client = await look(canary(request), _find, request.path_params["client_id"])
    return render(request, op, "console/client.html",
                  {"section": "clients", "client": client, "form": form,
                   "console_client": registry.DASHBOARD_CLIENT_ID, "unchangeable": unchangeable(client.client_id)},
                  error=error, status=status)


def _create(db: Session, form: Form) -> Created:
    kind = KINDS.get(form.get("kind"))
    if kind is None:
        raise Refused("kind must be one of " + ", ".join(KINDS))
    body: dict[str, Any] = {
        "name": form.get("name").strip(), "redirect_uris": form.lines("redirect_uris"),
        "post_logout_redirect_uris": form.lines("post_logout_redirect_uris"),
        "grant_types": kind["grant_types"], "scope": " ".join(form.get("scope").split()) or kind["scope"],
        "public": kind["public"], "first_party": form.flag("first_party")}
    organization = form.get("organization").strip()
    if organization:
        body["organization"] = organization
    check(schemas.CLIENT_CREATE, body, "")
    organization_id = None
    if organization:
        org = find_organization(db, organization)
        if org is None:
            raise Refused(f"organization: no organization {organization!r}")
        organization_id = org.id
    client, secret = registry.create_client(
        db, name=body["name"], redirect_uris=body["redirect_uris"], grant_types=body["grant_types"],
        scope=body["scope"], public=body["public"], first_party=body["first_party"],
        post_logout_redirect_uris=body["post_logout_redirect_uris"], organization_id=organization_id)
    return Created(client, secret)


@action(show_list)
async def create(request: Request, op: Operator, form: Form) -> Response:
    created = await work(canary(request), _create, form)
    return render(request, op, "console/client_secret.html", {"section": "clients", "created": created},
                  status=201)


def _update(db: Session, client_id: str, form: Form) -> None:
    client = _find(db, client_id, changing=True)
    name, uris, logout = (form.get("name").strip(), form.lines("redirect_uris"),
                          form.lines("post_logout_redirect_uris"))
    check(schemas.CLIENT_UPDATE, {"name": name, "redirect_uris": uris, "post_logout_redirect_uris": logout}, "")
    registry.update_client(db, client, name=name, redirect_uris=uris, post_logout_redirect_uris=logout)


@action(show_client)
async def update(request: Request, op: Operator, form: Form) -> Response:
    client_id = request.path_params["client_id"]
    await work(canary(request), _update, client_id, form)
    return done(f"/console/clients/{client_id}", "client-updated")


def _rotate(db: Session, client_id: str) -> Created:
    client = _find(db, client_id, changing=True)
    return Created(client, registry.rotate_secret(db, client), rotated=True)


@action(show_client)
async def rotate(request: Request, op: Operator, form: Form) -> Response:
    created = await work(canary(request), _rotate, request.path_params["client_id"])
    return render(request, op, "console/client_secret.html", {"section": "clients", "created": created})


def _delete(db: Session, client_id: str) -> None:
    registry.delete_client(db, _find(db, client_id, changing=True))


@action(show_client)
async def delete(request: Request, op: Operator, form: Form) -> Response:
    await work(canary(request), _delete, request.path_params["client_id"])
    return done("/console/clients", "client-deleted")


clients = page(show_list)
client = page(show_client)
