"""The provider's own event names are stored data: these values are what history is kept under."""

from __future__ import annotations

from analytics.api import Event, provider_events


def test_the_names_stored_for_the_providers_events() -> None:
    assert provider_events.ALL == ("signin.succeeded", "signin.failed", "token.issued", "token.refreshed", "signout",
                                   "mfa.enrolled", "mfa.removed", "signin.throttled")
    assert provider_events.ACTIVITY == ("signin.succeeded", "token.issued", "token.refreshed")


def test_every_name_is_a_valid_event_name() -> None:
    for name in provider_events.ALL:
        assert Event.for_idp(name, "").name == name
