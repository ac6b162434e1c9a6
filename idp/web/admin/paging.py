"""Offset paging of list endpoints: ``?offset=&limit=`` in, ``{items, total, offset, limit}`` out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from idp.web.admin import schemas
from idp.web.admin.routing import Call, Parameter

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

OFFSET = Parameter("offset", "query", {"type": "integer", "minimum": 0, "default": 0},
                   "how many items to skip")
LIMIT = Parameter("limit", "query", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                                     "default": DEFAULT_LIMIT}, "how many items to return at most")
PARAMETERS = (OFFSET, LIMIT)


def page_of(name: str, item: dict[str, Any]) -> dict[str, Any]:
    """Define the component ``name``: a page of ``item``s."""
    return schemas.define(name, schemas.obj({
        "items": {"type": "array", "items": item},
        "total": {"type": "integer", "minimum": 0, "description": "how many items match, on all pages"},
        "offset": {"type": "integer", "minimum": 0},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    }))


def window(call: Call) -> tuple[int, int]:
    return int(call.query["offset"]), int(call.query["limit"])


def page(call: Call, items: Sequence[Any], total: int) -> dict[str, Any]:
    offset, limit = window(call)
    return {"items": list(items), "total": total, "offset": offset, "limit": limit}
