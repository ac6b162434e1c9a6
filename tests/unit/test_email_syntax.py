"""One rule of what an e-mail address is, for accounts, invitations and alert recipients alike."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from analytics.alerts import AlertConfigError, is_email_address
from analytics.alerts.rules import check_email
from idp.accounts.errors import AccountError
from idp.accounts.models import User
from idp.accounts.users import create_user, find_user_by_email, normalize_email
from idp.db import transaction

ADDRESSES = ["a@example.com", "Ann.O'Neil+tag@Sub.Example.co.uk", "x@y", "ops-1@example-host.com",
             "jöhn@bücher.example", "a@xn--bcher-kva.example", "{}!#$%&*/=?^_`|~@example.com"]
NOT_ADDRESSES = [
    "<x@example.com>", "x@example.com>", 'quote"@example.com', '"a b"@example.com', "a b@example.com",
    "a@exa mple.com", "a\x01@example.com", "a\x7f@example.com", "a\u0085b@example.com", "a@example.com\r\nBcc: b@c.d",
    "(comment)a@example.com", "a(b)@example.com", "a[b]@example.com", "a,b@example.com", "a;b@example.com",
    "a:b@example.com", "a\\b@example.com", "a@[127.0.0.1]", "a@b@example.com", "@example.com", "a@", "a",
    "a..b@example.com", ".a@example.com", "a.@example.com", "a@example..com", "a@.example.com", "a@example.com.",
    "a@-example.com", "a@example-.com", "a@exa_mple.com", f"a@{'b' * 64}.com", f"{'a' * 65}@example.com",
    "a@ex\u2024ample.com", "a@\uff45xample.com", "a@example\u3002com", "a@xn--a.example", "a\ud800@example.com",
]


@pytest.mark.parametrize("address", ADDRESSES)
def test_addresses_are_accepted_everywhere(address: str) -> None:
    assert is_email_address(address)
    assert normalize_email(address) == address.lower()
    assert check_email(address) == address.lower()


@pytest.mark.parametrize("address", NOT_ADDRESSES)
def test_non_addresses_are_refused_everywhere(address: str) -> None:
    assert not is_email_address(address)
    with pytest.raises(AccountError):
        normalize_email(address)
    with pytest.raises(AlertConfigError):
        check_email(address)


def test_an_account_stored_under_an_older_rule_is_still_found(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as db:
        db.add(User(email="<legacy@example.com>", name="", email_verified=False))
        with pytest.raises(AccountError):
            create_user(db, email="<new@example.com>", password=None)
    with factory() as db:
        found = find_user_by_email(db, " <Legacy@Example.com> ")
        assert found is not None and found.email == "<legacy@example.com>"
        assert find_user_by_email(db, "legacy@example.com") is None
