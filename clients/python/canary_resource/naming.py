"""Event names for requests, from the route template and never from the raw path.

Canary's event names are 1 to 128 characters of letters, digits and ``_ . : -``, so ``GET /reports/{id}``
becomes ``GET:reports.:id``: the method, a colon, the path's segments joined by dots, and each path
parameter as ``:name`` (Starlette's ``{id}`` or ``{id:int}``, Flask's ``<id>`` or ``<int:id>``). The root
path is ``GET:.``. Other characters become ``_``. The template itself goes into the event's properties.
"""

from __future__ import annotations

import re

MAX_NAME = 128
_PARAM = re.compile(r"^\{([^}:]+)(?::[^}]*)?\}$|^<(?:[^>:]+:)?([^>]+)>$")
_OTHER = re.compile(r"[^A-Za-z0-9_\-]")


def event_name(method: str, template: str) -> str:
    segments = []
    for segment in template.strip("/").split("/"):
        if not segment:
            continue
        param = _PARAM.match(segment)
        if param:
            segments.append(":" + _OTHER.sub("_", param.group(1) or param.group(2)))
        else:
            segments.append(_OTHER.sub("_", segment))
    return f"{_OTHER.sub('_', method.upper())}:{'.'.join(segments) or '.'}"[:MAX_NAME]


def flask_template(rule: str) -> str:
    """A Flask/Werkzeug rule (``/reports/<int:id>``) written as a route template (``/reports/{id}``)."""
    return re.sub(r"<(?:[^>:]+:)?([^>]+)>", r"{\1}", rule)
