"""What a password must be, after NIST SP 800-63B §5.1.1.2 ("memorized secret verifiers"): at least
``min_length`` characters (``CANARY_PASSWORD_MIN_LENGTH``, 10 by default), at most 1024; not a password found
in breach corpora (the list of the most common ones shipped as ``common-passwords.txt``); not context-specific
(the account's e-mail address, its local part or its name). No composition rules (§5.1.1.2: "SHOULD NOT impose
other composition rules"). Every place a password is set calls ``check_password``.
"""

from __future__ import annotations

import functools
import unicodedata
from pathlib import Path

from idp.accounts.errors import AccountError

MAX_LENGTH = 1024
COMMON_PASSWORDS = Path(__file__).with_name("common-passwords.txt")


class WeakPassword(AccountError):
    code = "weak_password"


@functools.cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip().lower() for line in lines if line.strip() and not line.startswith("#"))


def _normal(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip().casefold()


def check_password(password: str, *, min_length: int, email: str = "", name: str = "") -> None:
    """Raise ``WeakPassword`` saying what is wrong, or return."""
    length = len(unicodedata.normalize("NFKC", password))
    if length < min_length:
        raise WeakPassword(f"the password must have at least {min_length} characters")
    if length > MAX_LENGTH:
        raise WeakPassword(f"the password must have at most {MAX_LENGTH} characters")
    candidate = _normal(password)
    context = {_normal(email), _normal(email.partition("@")[0]), _normal(name), _normal(name).replace(" ", "")}
    if candidate in context - {""}:
        raise WeakPassword("the password must not be your e-mail address or your name")
    if candidate in common_passwords():
        raise WeakPassword("this password is one of the most common ones; choose another")
