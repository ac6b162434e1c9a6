"""Password rules after NIST SP 800-63B §5.1.1.2: length, context-specific words, the shipped list of common
passwords; no composition rules."""

from __future__ import annotations

import pytest

from idp.accounts.password_rules import MAX_LENGTH, WeakPassword, check_password, common_passwords


@pytest.mark.parametrize(("password", "why"), [
    ("123456789", "at least 10"),
    ("x" * (MAX_LENGTH + 1), "at most"),
    ("Ada.Lovelace@Example.com", "e-mail address or your name"),
    ("ada.lovelace", "e-mail address or your name"),
    ("Countess Ada", "e-mail address or your name"),
    ("countessada", "e-mail address or your name"),
    ("PASSWORD123", "most common"),
    ("\uff51\uff57\uff45\uff52\uff54\uff59\uff55\uff49\uff4f\uff50", "most common"),  # fullwidth "qwertyuiop" (NFKC)
])
def test_refused(password: str, why: str) -> None:
    with pytest.raises(WeakPassword, match=why):
        check_password(password, min_length=10, email="ada.lovelace@example.com", name="Countess Ada")


@pytest.mark.parametrize("password", ["correct horse battery", "all lowercase words", "1234 5678 90 ab",
                                      "ünïcödé pässwörd"])
def test_accepted_without_composition_rules(password: str) -> None:
    check_password(password, min_length=10, email="ada@example.com", name="Ada")


def test_the_shipped_list_has_thousands_of_entries_of_eight_or_more() -> None:
    passwords = common_passwords()
    assert len(passwords) > 5000
    assert {"password", "iloveyou", "qwertyuiop", "1234567890"} <= passwords
    assert min(len(p) for p in passwords) >= 8
