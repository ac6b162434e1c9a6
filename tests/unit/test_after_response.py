"""``idp.web.after_response``: work is counted from the moment it is scheduled (before the answer leaves) until
it is done, failed work included, and a failure is logged rather than lost."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from idp.web.after_response import PENDING, after_response
from idp.web.context import Canary


class Runner:
    async def run(self, fn: Any, *args: Any) -> Any:
        return fn(*args)


def boom(what: str) -> None:
    raise RuntimeError(what)


def test_work_is_pending_from_scheduling_until_done_even_when_it_fails(caplog: pytest.LogCaptureFixture) -> None:
    done: list[str] = []
    c = cast(Canary, Runner())
    assert PENDING.settle(0)
    tasks = [after_response(c, done.append, "first"), after_response(c, boom, "broken")]
    assert not PENDING.settle(0)  # the answer has not left yet, and the work already counts

    async def answer_sent() -> None:
        for task in tasks:
            await task()

    asyncio.run(answer_sent())
    assert PENDING.settle(0)
    assert done == ["first"]
    assert "boom failed after its answer was sent" in caplog.text and "broken" in caplog.text
