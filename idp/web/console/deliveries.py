"""Deliveries: the notifications sent or to be sent, newest first, with their attempts and last error."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from analytics.alerts import STATUSES, Delivery, deliveries_page
from idp.web.console.auth import Operator
from idp.web.console.pages import PAGE_SIZE, Form, Refused, look, page, page_offset, render
from idp.web.context import canary


@dataclass
class Listing:
    deliveries: list[Delivery]
    total: int


def _page(db: Session, status: str | None, offset: int) -> Listing:
    rows, total = deliveries_page(db, status, offset, PAGE_SIZE)
    return Listing(rows, total)


async def show(request: Request, op: Operator, *, error: str = "", status: int = 200,
               form: Form | None = None) -> Response:
    wanted = request.query_params.get("status") or None
    if wanted is not None and wanted not in STATUSES:
        raise Refused("status must be one of " + ", ".join(STATUSES))
    offset = page_offset(request)
    listing = await look(canary(request), _page, wanted, offset)
    return render(request, op, "console/deliveries.html", {
        "section": "deliveries", "listing": listing, "status": wanted or "", "statuses": STATUSES,
        "offset": offset, "page_size": PAGE_SIZE}, error=error, status=status)


deliveries = page(show)
