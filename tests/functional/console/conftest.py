"""A signed-in operator on the shared provider (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.functional.conftest import Provider
from tests.support.console import Console, make_admin, sign_in


@pytest.fixture
def console(provider: Provider) -> Iterator[Console]:
    admin = make_admin(provider)
    with httpx.Client(base_url=provider.url, follow_redirects=False, timeout=30) as http:
        sign_in(http, admin.email)
        yield Console(http)
