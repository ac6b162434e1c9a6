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
