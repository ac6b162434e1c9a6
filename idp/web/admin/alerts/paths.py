"""Path ids of the alert operations: what the admin API accepts as a rule's or an endpoint's id."""

from __future__ import annotations

import re
from typing import Any

from idp.web.admin.errors import NotFound
from idp.web.admin.routing import Call, Parameter

TAG = "alerts"
MAX_ID = 2**31 - 1
ID: dict[str, Any] = {"type": "integer", "minimum": 1}
_ID = re.compile(r"^[1-9][0-9]{0,9}$")


def id_parameter(name: str, what: str) -> Parameter:
    return Parameter(name, "path", {"type": "integer", "minimum": 1, "maximum": MAX_ID}, f"the {what}'s id",
                     required=True)


def path_id(call: Call, name: str, what: str) -> int:
    value = call.path[name]
    if not _ID.match(value) or int(value) > MAX_ID:
        raise NotFound(f"no {what} {value!r}")
    return int(value)
