"""The token endpoint's form parser decodes exactly as urllib's parse_qsl does, and refuses what it must."""

from __future__ import annotations

import random
from urllib.parse import parse_qsl

import pytest

from idp.oauth.errors import InvalidRequest
from idp.oauth.server import parse_form


def reference(body: bytes) -> dict[str, str] | None:
    """parse_qsl with the rules parse_form adds (no repeats, no NUL in a value); None = refused."""
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False, max_num_fields=200)
    except (UnicodeDecodeError, ValueError):
        return None
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form or "\x00" in value:
            return None
        form[key] = value
    return form


def parsed(body: bytes) -> dict[str, str] | None:
    try:
        return parse_form(body)
    except InvalidRequest:
        return None


@pytest.mark.parametrize("body", [
    b"", b"&", b"a", b"a=", b"=b", b"a=1&a=2", b"a=%zz", b"a=%2", b"%61=1&a=2", b"a+b=c+d", b"x=%00", b"a=1;b=2",
    b"\xff=1", b"a=%C3%A9", b"a=%C3", b"grant_type=client_credentials&scope=events%3Awrite",
    b"&".join(b"k%d=v" % i for i in range(200)), b"&".join(b"k%d=v" % i for i in range(201)),
])
def test_crafted_bodies(body: bytes) -> None:
    assert parsed(body) == reference(body)


def test_random_bodies() -> None:
    alphabet = "ab=&%+2F0AZ\x00é;"
    rng = random.Random(20261128)
    for _ in range(20_000):
        body = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))).encode()
        assert parsed(body) == reference(body), body


def test_refusals_say_what_is_wrong() -> None:
    with pytest.raises(InvalidRequest, match="'a' is repeated"):
        parse_form(b"a=1&a=2")
    with pytest.raises(InvalidRequest, match="NUL"):
        parse_form(b"a=%00")
    with pytest.raises(InvalidRequest, match="UTF-8"):
        parse_form(b"a=\xff")
