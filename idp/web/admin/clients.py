"""/admin/api/v1/clients: OAuth clients. A secret is shown once, when the client is created or rotated.

Canary's own clients (``idp.oauth.user_grants.INTERNAL``: the console's and the account page's) are listed and
read like any other, but never changed, deleted or given a secret: people sign in to Canary's pages with them,
so a change would lock operators out of the console or users out of their account page.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from idp.accounts.service import find_organization
from idp.oauth import clients as registry
from idp.oauth.clients import DASHBOARD_CLIENT_ID
from idp.oauth.models import Client
from idp.oauth.user_grants import ACCOUNT_CLIENT_ID, INTERNAL
from idp.web.admin import paging, schemas
from idp.web.admin.errors import BadRequest, Conflict, NotFound
from idp.web.admin.routing import Call, Operation, Parameter

TAG = "clients"
CLIENT_ID = Parameter("client_id", "path", {"type": "string"}, "the client's client_id", required=True)
CLIENT_PAGE = paging.page_of("ClientPage", schemas.CLIENT)
DEFAULT_GRANTS = ["authorization_code", "refresh_token"]
DEFAULT_SCOPE = "openid profile email offline_access"
_SIGNS_IN = {DASHBOARD_CLIENT_ID: "the operator console signs operators in with it",
             ACCOUNT_CLIENT_ID: "the account page (/account) signs users in with it"}
INTERNAL_REFUSED = (f"The client is one of Canary's own ({', '.join(INTERNAL)}), which cannot be changed, "
                    "deleted or given a secret.")


def unchangeable(client_id: str) -> str | None:
    """Why the client may not be changed, deleted or given a secret; None for any client but Canary's own."""
    if client_id not in INTERNAL:
        return None
    use = _SIGNS_IN.get(client_id, "Canary's own pages sign people in with it")
    return f"{client_id!r} is Canary's own client and cannot be changed or deleted: {use}"


def find(db: Session, client_id: str, *, changing: bool = False) -> Client:
    """The client; NotFound, or Conflict when ``changing`` one of Canary's own."""
    client = db.get(Client, client_id)
    if client is None:
        raise NotFound(f"no client {client_id!r}")
    if changing and (why := unchangeable(client.client_id)) is not None:
        raise Conflict(why)
    return client


def list_clients(call: Call) -> dict[str, Any]:
    offset, limit = paging.window(call)
    rows, total = registry.clients_page(call.db, offset=offset, limit=limit)
    return paging.page(call, [c.public_dict() for c in rows], total)


def create_client(call: Call) -> dict[str, Any]:
    body = call.body
    admin = body.get("admin", False)
    grants = body.get("grant_types") or (["client_credentials"] if admin else DEFAULT_GRANTS)
    scope = body.get("scope") or ("admin" if admin and grants == ["client_credentials"] else DEFAULT_SCOPE)
    organization_id = None
    if "organization" in body:
        org = find_organization(call.db, body["organization"])
        if org is None:
            raise BadRequest(f"no organization {body['organization']!r}", "organization")
        organization_id = org.id
    metadata = {"grant_types": grants, "redirect_uris": body.get("redirect_uris", []),
                "post_logout_redirect_uris": body.get("post_logout_redirect_uris", [])}
    public = body.get("public", False)
    alg = body.get("id_token_signed_response_alg", "RS256")
    token_format = body.get("access_token_format", "jwt")
    client, secret = registry.create_client(
        call.db, name=body["name"], scope=scope, public=public, first_party=body.get("first_party", False),
        admin=admin, organization_id=organization_id, id_token_alg=alg, access_token_format=token_format,
        resource_server=body.get("resource_server", False), events_by_email=body.get("events_by_email", False),
        logo_uri=body.get("logo_uri"), initiate_login_uri=body.get("initiate_login_uri"), **metadata)
    return {**client.public_dict(), "client_secret": secret}


def get_client(call: Call) -> dict[str, Any]:
    return find(call.db, call.path["client_id"]).public_dict()


def update_client(call: Call) -> dict[str, Any]:
    client = find(call.db, call.path["client_id"], changing=True)
    registry.update_client(call.db, client, **call.body)
    return client.public_dict()


def delete_client(call: Call) -> None:
    registry.delete_client(call.db, find(call.db, call.path["client_id"], changing=True))


def rotate_secret(call: Call) -> dict[str, Any]:
    client = find(call.db, call.path["client_id"], changing=True)
    if client.is_public:
        raise BadRequest("public clients have no secret")
    return {"client_id": client.client_id, "client_secret": registry.rotate_secret(call.db, client)}


OPERATIONS = [
    Operation("GET", "/clients", list_clients, "listClients", "List clients", TAG, CLIENT_PAGE,
              parameters=paging.PARAMETERS, description="Clients in order of registration."),
    Operation("POST", "/clients", create_client, "createClient", "Register a client", TAG, schemas.CLIENT_CREATED,
              status=201, body=schemas.CLIENT_CREATE, response_description="Created",
              description="The response carries the client secret; it is not shown again."),
    Operation("GET", "/clients/{client_id}", get_client, "getClient", "Get a client", TAG, schemas.CLIENT,
              parameters=(CLIENT_ID,)),
    Operation("PATCH", "/clients/{client_id}", update_client, "updateClient", "Change a client", TAG,
              schemas.CLIENT, body=schemas.CLIENT_UPDATE, parameters=(CLIENT_ID,), errors={409: INTERNAL_REFUSED},
              description="Changes only the fields given, checked as at registration."),
    Operation("DELETE", "/clients/{client_id}", delete_client, "deleteClient", "Delete a client", TAG, status=204,
              parameters=(CLIENT_ID,), response_description="Deleted", errors={409: INTERNAL_REFUSED},
              description="Its grants, refresh tokens and consents go with it; its access tokens stop working "
                          "everywhere (introspection, UserInfo, the admin API, event ingest)."),
    Operation("POST", "/clients/{client_id}/secret", rotate_secret, "rotateClientSecret", "Rotate the secret", TAG,
              schemas.CLIENT_SECRET, parameters=(CLIENT_ID,),
              description="Replaces the client's secret at once; the response carries the new one, which is "
                          "not shown again.",
              errors={400: "The request is malformed, or the client is public and has no secret.",
                      409: INTERNAL_REFUSED}),
]
