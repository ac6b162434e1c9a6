"""Numbers and URLs the console cannot use are refused on the page (400/404), never a 500."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from analytics.alerts import WebhookEndpoint, create_webhook_endpoint
from idp.db import transaction
from tests.functional.conftest import Provider
from tests.support.console import Console, errors, text_of

# Unicode digits pass str.isdigit() but not int().
NOT_ASCII_DIGITS = ["\u00b2", "\u0661", "1\u00b2"]


@pytest.mark.parametrize("value", NOT_ASCII_DIGITS)
def test_listing_offsets_that_are_not_ascii_digits_start_at_the_top(console: Console, value: str) -> None:
    for path in ("/console/users", "/console/deliveries"):
        assert console.get(path, offset=value).status_code == 200, path
    assert console.get("/console/users", offset="9" * 5000).status_code == 200


@pytest.mark.parametrize("value", NOT_ASCII_DIGITS)
def test_ids_that_are_not_ascii_digits_are_not_found(console: Console, value: str) -> None:
    for path in (f"/console/alerts/{value}", f"/console/webhooks/{value}"):
        assert console.get(path).status_code == 404, path
    for path in (f"/console/alerts/{value}/delete", f"/console/webhooks/{value}/delete",
                 f"/console/webhooks/{value}/test"):
        assert console.post(path).status_code == 404, path


@pytest.mark.parametrize("value", NOT_ASCII_DIGITS)
def test_rule_numbers_that_are_not_ascii_digits_are_refused(console: Console, value: str) -> None:
    days = console.post("/console/alerts", [("name", "r"), ("threshold_days", value),
                                            ("emails", "ops@example.com")])
    assert days.status_code == 400 and errors(days)[0] == "threshold_days must be a whole number"
    ids = console.post("/console/alerts", [("name", "r"), ("threshold_days", "7"), ("webhook_ids", value)])
    assert ids.status_code == 400 and errors(ids)[0] == "webhook_ids must name webhook endpoints"


def test_webhook_urls_that_cannot_be_sent_to_are_refused(console: Console) -> None:
    for url in ("https://example.com:abc/x", "https://xn--/x", f"https://{'a' * 70}.com/x"):
        page = console.post("/console/webhooks", {"url": url})
        assert page.status_code == 400 and errors(page)[0].startswith("url "), (url, errors(page))


def test_a_test_notification_to_a_stored_unsendable_url_shows_the_failure(provider: Provider,
                                                                            console: Console) -> None:
    with transaction(provider.context.factory) as db:
        endpoint = create_webhook_endpoint(db, "https://hooks.example.com/x").id
        db.execute(update(WebhookEndpoint).where(WebhookEndpoint.id == endpoint)
                   .values(url="https://example.com:abc/x"))
    page = console.post(f"/console/webhooks/{endpoint}/test")
    assert page.status_code == 200 and "cannot be sent" in text_of(page, "test-result")
