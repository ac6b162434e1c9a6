"""/admin/api/v1/alerts/webhooks: the webhook endpoints of `analytics.alerts.endpoints`, over HTTP.

A webhook secret is shown once, when the endpoint is created.
"""

from __future__ import annotations

from typing import Any, cast

from analytics.alerts import (
    FORMATS,
    MAX_DESCRIPTION_LENGTH,
    MAX_SECRET_LENGTH,
    MAX_URL_LENGTH,
    SECRET_PREFIX,
    EndpointChanges,
    create_webhook_endpoint,
    delete_webhook_endpoint,
    enable_webhook_endpoint,
    get_webhook_endpoint,
    update_webhook_endpoint,
    webhook_dict,
    webhook_endpoints_page,
)
from idp.web.admin import paging
from idp.web.admin.alerts.paths import ID, TAG, id_parameter, path_id
from idp.web.admin.routing import Call, Operation
from idp.web.admin.schemas import OPTIONAL_TIMESTAMP, TIMESTAMP, boolean, define, obj, string

WEBHOOK_ID = id_parameter("webhook_id", "webhook endpoint")

_WEBHOOK = {
    "id": ID,
    "url": string(format="uri"),
    "format": string("`standard`: signed JSON; `slack`: a Slack-compatible incoming webhook", enum=list(FORMATS)),
    "description": string(),
    "created_at": TIMESTAMP,
    "disabled": boolean("a disabled endpoint is not notified; enable it again with POST …/enable"),
    "disabled_at": OPTIONAL_TIMESTAMP,
    "disabled_reason": {"type": ["string", "null"], "description": "why it was disabled: it answered 410 Gone, or "
                        "too many consecutive deliveries failed"},
    "failure_count": {"type": "integer", "minimum": 0, "description": "consecutive failed attempts; a "
                      "successful delivery resets it"},
}
WEBHOOK = define("WebhookEndpoint", obj(_WEBHOOK))
WEBHOOK_CREATED = define("WebhookEndpointCreated", obj({
    **_WEBHOOK,
    "secret": string("the signing secret (Standard Webhooks); shown only in this response"),
}))
WEBHOOK_PAGE = paging.page_of("WebhookEndpointPage", WEBHOOK)

_URL = string("an http or https URL with a host", minLength=1, maxLength=MAX_URL_LENGTH, format="uri")
_SECRET = string("a Standard Webhooks secret: `whsec_` and the base64 of 24 to 64 random bytes",
                 maxLength=MAX_SECRET_LENGTH, pattern=f"^{SECRET_PREFIX}", writeOnly=True)
_DESCRIPTION = string(maxLength=MAX_DESCRIPTION_LENGTH)
_FORMAT = string("`standard`: the JSON notification signed per Standard Webhooks; `slack`: a Slack-compatible "
                 "incoming webhook, POSTed `{\"text\": ...}` (one readable line), unsigned", enum=list(FORMATS))
WEBHOOK_CREATE = define("WebhookEndpointCreate", obj({
    "url": _URL,
    "secret": {**_SECRET, "description": _SECRET["description"] + "; generated when omitted"},
    "description": {**_DESCRIPTION, "default": ""},
    "format": {**_FORMAT, "default": "standard"},
}, required=("url",)))
WEBHOOK_UPDATE = define("WebhookEndpointUpdate", obj({
    "url": _URL,
    "secret": {**_SECRET, "description": _SECRET["description"] + "; replaces the current one at once"},
    "description": _DESCRIPTION,
    "format": _FORMAT,
}, required=()))


def _id(call: Call) -> int:
    return path_id(call, "webhook_id", "webhook endpoint")


def list_webhooks(call: Call) -> dict[str, Any]:
    rows, total = webhook_endpoints_page(call.db, *paging.window(call))
    return paging.page(call, [webhook_dict(e) for e in rows], total)


def create_webhook(call: Call) -> dict[str, Any]:
    body = call.body
    endpoint = create_webhook_endpoint(call.db, body["url"], body.get("secret"), body.get("description", ""),
                                       allow_private=call.c.settings.webhook_allow_private,
                                       format_=body.get("format", "standard"))
    return {**webhook_dict(endpoint), "secret": endpoint.secret}


def get_webhook(call: Call) -> dict[str, Any]:
    return webhook_dict(get_webhook_endpoint(call.db, _id(call)))


def update_webhook(call: Call) -> dict[str, Any]:
    return webhook_dict(update_webhook_endpoint(call.db, _id(call), cast(EndpointChanges, call.body),
                                                allow_private=call.c.settings.webhook_allow_private))


def delete_webhook(call: Call) -> None:
    delete_webhook_endpoint(call.db, _id(call))


def enable_webhook(call: Call) -> dict[str, Any]:
    endpoint = get_webhook_endpoint(call.db, _id(call))
    enable_webhook_endpoint(call.db, endpoint)
    call.db.flush()
    return webhook_dict(endpoint)


OPERATIONS = [
    Operation("GET", "/alerts/webhooks", list_webhooks, "listWebhookEndpoints", "List webhook endpoints", TAG,
              WEBHOOK_PAGE, parameters=paging.PARAMETERS, description="Endpoints in order of creation."),
    Operation("POST", "/alerts/webhooks", create_webhook, "createWebhookEndpoint", "Add a webhook endpoint", TAG,
              WEBHOOK_CREATED, status=201, body=WEBHOOK_CREATE, response_description="Created",
              description="Notifications are POSTed as JSON and signed per Standard Webhooks with the "
                          "endpoint's secret, which this response carries and no other does; to a `slack` "
                          "endpoint, as `{\"text\": ...}`, unsigned."),
    Operation("GET", "/alerts/webhooks/{webhook_id}", get_webhook, "getWebhookEndpoint", "Get a webhook endpoint",
              TAG, WEBHOOK, parameters=(WEBHOOK_ID,)),
    Operation("PATCH", "/alerts/webhooks/{webhook_id}", update_webhook, "updateWebhookEndpoint",
              "Change a webhook endpoint", TAG, WEBHOOK, body=WEBHOOK_UPDATE, parameters=(WEBHOOK_ID,),
              description="Changes only the fields given."),
    Operation("DELETE", "/alerts/webhooks/{webhook_id}", delete_webhook, "deleteWebhookEndpoint",
              "Delete a webhook endpoint", TAG, status=204, parameters=(WEBHOOK_ID,), conflict=True,
              response_description="Deleted",
              description="Its deliveries go with it. 409 while an alert rule still notifies it.",
              errors={409: "An alert rule still notifies the endpoint: change or delete the rule first."}),
    Operation("POST", "/alerts/webhooks/{webhook_id}/enable", enable_webhook, "enableWebhookEndpoint",
              "Enable a webhook endpoint again", TAG, WEBHOOK, parameters=(WEBHOOK_ID,),
              description="Clears the disabled state and the failure count; new notifications reach it again."),
]
