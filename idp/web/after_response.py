"""Work a page accepts and does once its answer is sent (Starlette's ``BackgroundTask``).

Sign-up and "forgot password" answer the same page whether or not the address has an account, but the work
behind the answer differs: making an account and a link and queueing a mail, or queueing another mail, or
nothing. Done before the answer, that difference shows in how long the answer takes; done after it, the
answer's time depends only on what the request carried and on the throttle, never on the accounts.

The work runs in the threadpool and in one transaction of its own: all of it is written or none of it. A failure
is logged (the answer is gone already). ``PENDING`` counts the work accepted and not yet done in this process,
from the moment it is scheduled — before the answer leaves — so ``PENDING.settle()`` returns only once
everything answered so far is written (tests read the mail it queued).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from starlette.background import BackgroundTask

from idp.web.context import Canary

log = logging.getLogger("canary.accounts")


class Pending:
    """The work scheduled and not yet finished, with a wait for none."""

    def __init__(self) -> None:
        self._count = 0
        self._changed = threading.Condition()

    def add(self) -> None:
        with self._changed:
            self._count += 1

    def done(self) -> None:
        with self._changed:
            self._count -= 1
            self._changed.notify_all()

    def settle(self, timeout: float = 30.0) -> bool:
        """Wait until no scheduled work is left; False if some still is after ``timeout`` seconds."""
        with self._changed:
            return self._changed.wait_for(lambda: self._count == 0, timeout)


PENDING = Pending()


def after_response(c: Canary, work: Callable[..., object], *args: Any) -> BackgroundTask:
    """``work(*args)``, run off the event loop once the response it is set on (``background=``) is sent.
    Schedule it last, when the response is built: it is counted from now on."""
    PENDING.add()

    async def run() -> None:
        try:
            await c.run(work, *args)
        except Exception:
            log.exception("%s failed after its answer was sent", getattr(work, "__qualname__", repr(work)))
        finally:
            PENDING.done()

    return BackgroundTask(run)
