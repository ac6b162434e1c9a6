"""uvicorn's factory entry point, ``idp.asgi:app`` (``idp.bootstrap.ASGI_FACTORY``): imported by that name in
each worker process of ``canary serve --workers N``, settings read from the environment."""

from __future__ import annotations

from starlette.applications import Starlette

from idp.bootstrap import application


def app() -> Starlette:
    return application()
