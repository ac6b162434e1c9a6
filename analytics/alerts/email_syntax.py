"""What Canary accepts as an e-mail address — for accounts, invitations and alert recipients alike (the
provider imports it from ``analytics.alerts``; analytics cannot import the provider).

One mailbox, nothing a mail header parser could read differently: a local part of RFC 5322 `dot-atom` text
(letters, digits and ``!#$%&'*+/=?^_`{|}~-``, or non-ASCII characters as RFC 6532 allows, in dot-separated
runs), ``@``, and a domain of dot-separated labels of letters, digits and hyphens (internationalized labels
allowed, as IDNA encodes them). No spaces, control characters, quotes, comments or angle brackets: an
address such as ``<x@example.com>`` would be stored as one account and delivered to another.
"""

from __future__ import annotations

import re

MAX_LOCAL_LENGTH = 64
MAX_DOMAIN_LENGTH = 255
_ATEXT = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-")
_ASCII_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def is_email_address(text: str) -> bool:
    """True when ``text`` is one address by the rules above (case does not matter)."""
    local, at, domain = text.rpartition("@")
    return bool(at) and _is_local_part(local) and _is_domain(domain)


def _is_local_part(local: str) -> bool:
    if not 1 <= len(local) <= MAX_LOCAL_LENGTH:
        return False
    return all(atom and all(_is_atext(char) for char in atom) for atom in local.split("."))


def _is_atext(char: str) -> bool:
    return char in _ATEXT or (ord(char) > 127 and char.isprintable() and not char.isspace())


def _is_domain(domain: str) -> bool:
    if not 1 <= len(domain) <= MAX_DOMAIN_LENGTH:
        return False
    try:
        labels = [_ascii_label(label) for label in domain.split(".")]
    except UnicodeError:
        return False
    return (len(".".join(labels)) <= MAX_DOMAIN_LENGTH
            and all(_ASCII_LABEL.fullmatch(label) for label in labels))


def _ascii_label(label: str) -> str:
    """The label as IDNA sends it (an internationalized one as its ``xn--`` form); UnicodeError when it has
    none, or when IDNA would turn it into another name (fullwidth letters, a dot look-alike)."""
    if label.isascii():
        if label.lower().startswith("xn--"):
            label.encode("ascii").decode("idna")  # valid Punycode
        return label
    if not all(char == "-" or (char.isalnum() and not char.isdigit()) or char.isascii() for char in label):
        raise UnicodeError(f"not a host name label: {label!r}")
    encoded = label.encode("idna")
    if encoded.decode("idna") != label.lower():
        raise UnicodeError(f"IDNA maps {label!r} to another name")
    return encoded.decode("ascii")
