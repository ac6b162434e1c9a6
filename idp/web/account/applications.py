"""The applications section: revoke an application the person consented to (``idp.oauth.user_grants``):
its consent goes and its refresh and access tokens stop working."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from idp.oauth.user_grants import revoke_application
from idp.web import forms
from idp.web.account.page import done, show, sign_in, signed_in
from idp.web.context import Canary, canary


def _revoke(c: Canary, request: Request, client_id: str) -> bool | None:
    with c.factory() as db:
        signed = signed_in(c, db, request)
        if signed is None:
            return None
        revoked = revoke_application(db, signed.user.id, client_id, c.clock.now())
        db.commit()
        return revoked


async def revoke(request: Request) -> Response:
    form = await forms.read(request)
    if isinstance(form, Response):
        return form
    c = canary(request)
    result = await c.run(_revoke, c, request, form.get("client_id", "")[:64])
    if result is None:
        return sign_in(c)
    return done("application") if result else await show(request, error="No such application.", status=400)


routes = [Route("/account/applications/revoke", revoke, methods=["POST"])]
