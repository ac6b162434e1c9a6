"""The console's webhook form chooses the endpoint's format (Standard Webhooks or a Slack incoming webhook)."""

from __future__ import annotations

import secrets

from sqlalchemy import select

from analytics.alerts import WebhookEndpoint
from tests.functional.conftest import Provider
from tests.support.console import Console, errors


def test_a_slack_endpoint_is_added_from_the_form(provider: Provider, console: Console) -> None:
    url = f"https://hooks.example.com/slack/{secrets.token_hex(4)}"
    created = console.post("/console/webhooks", {"url": url, "format": "slack"})
    assert created.status_code == 201
    plain = f"https://hooks.example.com/plain/{secrets.token_hex(4)}"
    assert console.post("/console/webhooks", {"url": plain}).status_code == 201
    with provider.context.factory() as db:
        stored = db.scalars(select(WebhookEndpoint).where(WebhookEndpoint.url.in_([url, plain])))
        formats = {endpoint.url: endpoint.format for endpoint in stored}
    assert formats == {url: "slack", plain: "standard"}
    assert "<td>slack</td>" in console.get("/console/webhooks").text
    bad = console.post("/console/webhooks", {"url": url, "format": "teams"})
    assert bad.status_code == 400 and errors(bad) == ["format must be one of standard, slack, not 'teams'"]


def test_an_endpoints_format_is_changed_on_its_page(provider: Provider, console: Console) -> None:
    url = f"https://hooks.example.com/edit/{secrets.token_hex(4)}"
    assert console.post("/console/webhooks", {"url": url}).status_code == 201
    with provider.context.factory() as db:
        endpoint = db.scalars(select(WebhookEndpoint).where(WebhookEndpoint.url == url)).one().id
    page = console.get(f"/console/webhooks/{endpoint}").text
    assert '<option value="standard" selected>' in page and "<dt>Format</dt><dd>standard</dd>" in page

    def stored() -> str:
        with provider.context.factory() as db:
            return db.get(WebhookEndpoint, endpoint).format  # type: ignore[union-attr]

    saved = console.post(f"/console/webhooks/{endpoint}", {"url": url, "description": "", "format": "slack"})
    assert saved.headers["location"] == f"/console/webhooks/{endpoint}?done=webhook-updated" and stored() == "slack"
    assert '<option value="slack" selected>' in console.get(f"/console/webhooks/{endpoint}").text
    assert console.post(f"/console/webhooks/{endpoint}", {"url": url, "description": "x"}).status_code == 303
    assert stored() == "slack"  # a form without the field keeps the format
    bad = console.post(f"/console/webhooks/{endpoint}", {"url": url, "description": "", "format": "teams"})
    assert bad.status_code == 400 and errors(bad) == ["format must be one of standard, slack, not 'teams'"]
    assert stored() == "slack"
    back = console.post(f"/console/webhooks/{endpoint}", {"url": url, "description": "", "format": "standard"})
    assert back.status_code == 303 and stored() == "standard"
