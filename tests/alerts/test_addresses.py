"""Webhooks reach public addresses only: checked at registration as written, and at delivery after the name is
resolved, connecting to the address that was checked (no second look-up to rebind)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from analytics.alerts import (
    AlertConfigError,
    AlertService,
    AlertSettings,
    Delivery,
    GuardedTransport,
    create_rule,
    create_webhook_endpoint,
    send_test_notification,
    update_webhook_endpoint,
)
from analytics.alerts.addresses import checked_addresses, is_public, numeric_host
from analytics.directory import InMemoryDirectory
from tests.alerts.conftest import NOW, TODAY, AlertDatabase, FakeActivity, Receiver

INTERNAL = [
    "http://127.0.0.1/hook", "http://localhost:8080/", "http://LOCALHOST./", "http://api.localhost/",
    "http://[::1]/", "http://0.0.0.0/", "http://[::]/", "http://0/", "http://10.1.2.3/", "http://172.16.0.9/",
    "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data/", "http://100.64.0.1/",
    "http://[fd00::1]/", "http://[fe80::1]/", "http://224.0.0.1/", "http://240.0.0.1/",
    "http://2130706433/", "http://0x7f.1/", "http://0177.0.0.1/", "http://127.1/", "http://0x7f000001/",
    "http://[::ffff:127.0.0.1]/", "http://[::ffff:a9fe:a9fe]/", "http://[64:ff9b::a9fe:a9fe]/",
    "http://[2002:7f00:1::]/", "https://user:pw@10.0.0.1:8443/x",
]
PUBLIC = ["https://hooks.example.com/canary", "https://93.184.216.34/hook", "http://[2606:4700::1111]/",
          "https://1e100.net/"]


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_addresses_are_refused_at_registration(sqlite_database: AlertDatabase, url: str) -> None:
    with sqlite_database.session_factory()() as session:
        with pytest.raises(AlertConfigError, match="public address") as refused:
            create_webhook_endpoint(session, url)
        assert refused.value.field == "url"
        endpoint = create_webhook_endpoint(session, "https://hooks.example.com/x")
        with pytest.raises(AlertConfigError, match="public address"):
            update_webhook_endpoint(session, endpoint.id, {"url": url})
        # The development switch lets them through, as long as the HTTP client can send to them at all (it
        # refuses the leading zero of an octal IPv4 form).
        if url == "http://0177.0.0.1/":
            with pytest.raises(AlertConfigError, match="invalid host"):
                create_webhook_endpoint(session, url, allow_private=True)
        else:
            assert create_webhook_endpoint(session, url, allow_private=True).url == url


@pytest.mark.parametrize("url", PUBLIC)
def test_public_addresses_and_names_are_accepted(sqlite_database: AlertDatabase, url: str) -> None:
    with sqlite_database.session_factory()() as session:
        assert create_webhook_endpoint(session, url).url == url


def test_numeric_forms_are_the_addresses_they_denote() -> None:
    for written in ("2130706433", "0x7f.1", "0177.0.0.1", "127.1", "0x7f000001", "127.0.0.1"):
        assert str(numeric_host(written)) == "127.0.0.1", written
    assert numeric_host("hooks.example.com") is None and numeric_host("1e100.net") is None
    assert not is_public(numeric_host("[::ffff:169.254.169.254]"))  # type: ignore[arg-type]


def test_every_address_of_a_name_must_be_public() -> None:
    assert checked_addresses("hooks.example.com", 443, lambda h, p: ["93.184.216.34"]) == ["93.184.216.34"]
    for answer in (["93.184.216.34", "10.0.0.7"], ["169.254.169.254"], ["::1"], []):
        with pytest.raises(ValueError, match="resolves to"):
            checked_addresses("hooks.example.com", 443, lambda h, p, answer=answer: answer)


def _deliver(database: AlertDatabase, receiver: Receiver, transport: GuardedTransport,
             directory: InMemoryDirectory) -> tuple[list[str], str | None]:
    """One notification to http://hooks.example.com:<receiver's port>/hooks; the receiver listens on 127.0.0.1."""
    port = receiver.url.split(":")[2].split("/")[0]
    with database.session_factory()() as session:
        endpoint = create_webhook_endpoint(session, f"http://hooks.example.com:{port}/hooks")  # a name: accepted
        create_rule(session, "quiet", 7, "org-a", webhook_ids=[endpoint.id])
        session.commit()
    activity = FakeActivity({"alice": TODAY - timedelta(days=10), "bob": TODAY, "carol": TODAY})
    with AlertService(database.session_factory(), activity, directory, AlertSettings(),
                      transport=transport) as service:
        report = service.run_once(NOW)
    with database.session_factory()() as session:
        errors = [d.last_error for d in session.scalars(select(Delivery))]
    return report.deliveries.delivered, errors[0] if errors else None


def test_a_name_resolving_to_loopback_is_refused_at_delivery(sqlite_database: AlertDatabase, receiver: Receiver,
                                                             directory: InMemoryDirectory) -> None:
    looked_up: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return ["127.0.0.1"]

    delivered, error = _deliver(sqlite_database, receiver, GuardedTransport(resolver=resolver), directory)
    assert delivered == [] and receiver.received == []
    assert error is not None and "refused" in error and "127.0.0.1" in error
    assert looked_up == ["hooks.example.com"]


def test_the_connection_goes_to_the_address_checked(sqlite_database: AlertDatabase, receiver: Receiver,
                                                    directory: InMemoryDirectory) -> None:
    """With the development switch on, the same name reaches the loopback receiver: the address the guard
    resolved is the one connected to (hooks.example.com itself is never looked up again), and the request
    still names the host."""
    looked_up: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        looked_up.append(host)
        return ["127.0.0.1"]

    transport = GuardedTransport(allow_private=True, resolver=resolver)
    delivered, _ = _deliver(sqlite_database, receiver, transport, directory)
    assert len(delivered) == 1 and len(receiver.received) == 1
    assert receiver.received[0].headers["host"].startswith("hooks.example.com:")
    assert looked_up == ["hooks.example.com"]


def test_the_service_guards_its_webhooks_by_default(sqlite_database: AlertDatabase, receiver: Receiver,
                                                    directory: InMemoryDirectory) -> None:
    with sqlite_database.session_factory()() as session:
        endpoint = create_webhook_endpoint(session, receiver.url, allow_private=True)  # registered in development
        create_rule(session, "quiet", 7, "org-a", webhook_ids=[endpoint.id])
        session.commit()
    activity = FakeActivity({"alice": TODAY - timedelta(days=10)})
    with AlertService(sqlite_database.session_factory(), activity, directory) as service:  # then switched off
        report = service.run_once(NOW)
    assert report.deliveries.delivered == [] and receiver.received == []


def test_a_test_notification_is_guarded_too(sqlite_database: AlertDatabase, receiver: Receiver) -> None:
    with sqlite_database.session_factory()() as session:
        endpoint = create_webhook_endpoint(session, receiver.url, allow_private=True)
        session.commit()
        refused = send_test_notification(endpoint, AlertSettings(), NOW)
        assert not refused.delivered and "refused" in (refused.error or "") and receiver.received == []
        sent = send_test_notification(endpoint, AlertSettings(allow_private_addresses=True), NOW)
        assert sent.delivered and len(receiver.received) == 1
