"""Which authenticated requests become usage events, and what each one says."""

from __future__ import annotations

import fnmatch
import random
from collections.abc import Callable, Iterable

from canary_resource.claims import AccessClaims
from canary_resource.events import EventClient
from canary_resource.naming import event_name

DEFAULT_EXCLUDE = ("OPTIONS *", "HEAD *")


class Recorder:
    """Records a request as ``event_name(method, template)`` about the token's subject.

    ``sample`` is the fraction of requests recorded (1.0: all). ``exclude`` holds glob patterns matched against
    ``"METHOD /template"`` and against ``"/template"`` (``"/health*"``, ``"GET /internal/*"``). A request whose
    route is not known (no route matched: a 404) is not recorded: its raw path is never a name.
    """

    def __init__(self, events: EventClient, *, sample: float = 1.0, exclude: Iterable[str] = DEFAULT_EXCLUDE,
                 record_status: bool = True, random_: Callable[[], float] = random.random) -> None:
        if not 0.0 <= sample <= 1.0:
            raise ValueError("sample must be between 0 and 1")
        self.events = events
        self.sample = sample
        self.exclude = tuple(exclude)
        self.record_status = record_status
        self._random = random_
        self._names: dict[tuple[str, str], str | None] = {}

    def name(self, method: str, template: str) -> str | None:
        """The event name, or None when excluded; memoised per route (templates are few)."""
        key = (method, template)
        try:
            return self._names[key]
        except KeyError:
            pass
        both = (f"{method} {template}", template)
        excluded = any(fnmatch.fnmatchcase(s, p) for p in self.exclude for s in both)
        name = None if excluded else event_name(method, template)
        if len(self._names) < 10_000:
            self._names[key] = name
        return name

    def record(self, claims: AccessClaims, method: str, template: str | None, status: int) -> bool:
        if template is None or (self.sample < 1.0 and self._random() >= self.sample):
            return False
        name = self.name(method, template)
        if name is None:
            return False
        properties = {"route": f"{method} {template}", "status": status} if self.record_status else \
            {"route": f"{method} {template}"}
        return self.events.track(claims.sub, name, properties, organization=claims.organization)
