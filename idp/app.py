"""create_app(settings): the one place routes, middleware and lifespan are wired."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from idp.accounts.flows import AccountFlows, AccountPolicy
from idp.accounts.throttle import Throttle
from idp.activity import Activity
from idp.clock import SYSTEM_CLOCK, Clock
from idp.db import make_engine, make_session_factory
from idp.loop_postgres import loop_postgres
from idp.loop_sessions import loop_sessions
from idp.mail import mailer_for
from idp.oauth.client_cache import ClientCache
from idp.oauth.errors import InvalidRequest
from idp.oauth.key_cipher import cipher_from
from idp.oauth.keys import KeyStore
from idp.oauth.resource_access import ResourceAccess
from idp.oauth.server import BodyTooLarge, CanaryAuthorizationServer
from idp.oauth.tokens import TokenPolicy, TokenService
from idp.oauth.web_origins import WebOrigins
from idp.settings import Settings
from idp.web import (
    account_routes,
    admin,
    authorize,
    console,
    dashboard,
    discovery,
    events,
    logout,
    operations,
    token,
    userinfo,
)
from idp.web.context import Canary
from idp.web.cors import CrossOrigin
from idp.web.factors import routes as factors
from idp.web.instrumented import Instrumented
from idp.web.responses import json_error
from idp.web.security import SecurityHeaders, csp_context
from idp.web.throttling import limits, login_policy

if TYPE_CHECKING:
    from analytics.api import AnalyticsFacade

log = logging.getLogger("canary")
TEMPLATES = Path(__file__).parent / "web" / "templates"


ROUTES = [
    # Starlette tries routes in order: the busiest endpoints come first (no two paths here overlap).
    Route("/token", token.token, methods=["POST"]),
    Route("/v1/events", events.post_events, methods=["POST"]),
    Route("/introspect", token.introspect, methods=["POST"]),
    Route("/userinfo", userinfo.userinfo, methods=["GET", "POST"]),
    Route("/.well-known/openid-configuration", discovery.openid_configuration, methods=["GET"]),
    Route("/.well-known/oauth-authorization-server", discovery.openid_configuration, methods=["GET"]),
    Route("/jwks", discovery.jwks, methods=["GET"]),
    Route("/authorize", authorize.authorize, methods=["GET", "POST"]),
    Route("/login", authorize.login, methods=["POST"], name="login"),
    Route("/consent", authorize.consent, methods=["POST"], name="consent"),
    Route("/revoke", token.revoke, methods=["POST"]),
    Route("/logout", logout.logout, methods=["GET", "POST"], name="logout"),
    *operations.routes,
    *console.routes,
    *dashboard.routes,
    *admin.routes,
    *factors.routes,
    *account_routes.routes,
]

MIDDLEWARE = [
    Middleware(Instrumented),
    Middleware(SecurityHeaders),
    Middleware(CrossOrigin),
]


async def database_down(request: Request, exc: Exception) -> Response:
    log.error("accounts database unavailable: %s", exc)
    return json_error("temporarily_unavailable", "the accounts database is unavailable; retry later", 503,
                      {"Retry-After": "5"})


async def bad_request(request: Request, exc: Exception) -> Response:
    return json_error("invalid_request", getattr(exc, "description", str(exc)), 400)


async def too_large(request: Request, exc: Exception) -> Response:
    return json_error("invalid_request", str(exc), 413)


async def unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return json_error("server_error", "an unexpected error occurred", 500)


def build_context(settings: Settings, analytics: AnalyticsFacade | None = None, clock: Clock = SYSTEM_CLOCK) -> Canary:
    engine = make_engine(settings.database_url)
    factory = make_session_factory(engine)
    keys = KeyStore(factory, max_token_ttl=max(settings.access_token_ttl, settings.id_token_ttl),
                    cipher=cipher_from(settings.key_encryption_key), clock=clock)
    tokens = TokenService(keys, TokenPolicy(settings.issuer, settings.access_token_ttl, settings.id_token_ttl,
                                            settings.refresh_token_ttl, settings.signing_alg), clock)
    access = ResourceAccess(tokens, engine, embedded=settings.embedded_database, clock=clock.timestamp)
    activity = Activity(analytics)
    server = CanaryAuthorizationServer(factory, tokens, access, settings.max_body_bytes, activity.token_issued,
                                       ClientCache(settings.cache_seconds), loop_sessions(settings.database_url),
                                       loop_postgres(settings.database_url))
    mail = mailer_for(settings, factory, clock)
    return Canary(settings=settings, factory=factory, keys=keys, tokens=tokens, access=access, server=server,
                  activity=activity, templates=Jinja2Templates(directory=str(TEMPLATES),
                                                               context_processors=[csp_context]),
                  analytics=analytics, clock=clock, login_policy=login_policy(settings, mail),
                  throttle=Throttle(limits(settings), clock.timestamp),
                  web_origins=WebOrigins(factory, settings.cache_seconds, clock.timestamp),
                  mail=mail, accounts=AccountFlows(mail, clock, AccountPolicy.from_settings(settings),
                                                   TokenService.revoke_user_grants, activity))


def create_app(settings: Settings, analytics: AnalyticsFacade | None = None, *, background: bool = True,
               clock: Clock = SYSTEM_CLOCK) -> Starlette:
    """The ASGI app. ``analytics`` is an opened ``analytics.api.Analytics`` (or None: ingest answers 503);
    ``clock`` is what the provider decides time by (tests pass one they can move)."""
    context = build_context(settings, analytics, clock)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        for warning in settings.warnings():
            log.warning(warning)
        alerts = None
        if background:
            context.mail.sender.start()
        if analytics is not None and background:
            from idp.alerting import alert_service

            analytics.start()
            alerts = alert_service(settings, context.factory, analytics, context.mail.transport,
                                   clock=context.clock.now)
            alerts.start()
        app.state.alerts = alerts  # the running alert service, or None
        try:
            yield
        finally:
            if alerts is not None:
                alerts.close()
            context.mail.sender.stop()
            if analytics is not None and background:
                analytics.close()
            if context.server.on_loop is not None:
                await context.server.on_loop.close()
            if context.server.loop_postgres is not None:
                await context.server.loop_postgres.close()
            context.factory.kw["bind"].dispose()

    app = Starlette(
        routes=ROUTES,
        middleware=MIDDLEWARE,
        lifespan=lifespan,
        exception_handlers={
            OperationalError: database_down,
            InterfaceError: database_down,
            InvalidRequest: bad_request,
            BodyTooLarge: too_large,
            Exception: unexpected,
        },
    )
    app.state.canary = context
    return app
