"""What every endpoint needs, built once by ``idp.app.create_app`` and kept on ``app.state.canary``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from idp.accounts.flows import AccountFlows
from idp.accounts.service import LoginPolicy
from idp.accounts.throttle import Throttle
from idp.activity import Activity
from idp.clock import Clock
from idp.mail import Mailer
from idp.oauth.keys import KeyStore
from idp.oauth.resource_access import ResourceAccess
from idp.oauth.server import CanaryAuthorizationServer
from idp.oauth.tokens import TokenService
from idp.oauth.web_origins import WebOrigins
from idp.settings import Settings

if TYPE_CHECKING:
    from analytics.api import AnalyticsFacade

T = TypeVar("T")


@dataclass
class Canary:
    settings: Settings
    factory: sessionmaker[Session]
    keys: KeyStore
    tokens: TokenService
    access: ResourceAccess  # is a token usable, may it post these events
    server: CanaryAuthorizationServer
    activity: Activity
    templates: Jinja2Templates
    analytics: AnalyticsFacade | None
    clock: Clock
    mail: Mailer  # outgoing mail: mail.send(template, to, context, db=None)
    accounts: AccountFlows  # what password reset, verification, sign-up and invitations need
    web_origins: WebOrigins  # where browser applications may call the token endpoints from (CORS)
    login_policy: LoginPolicy = field(default_factory=LoginPolicy)  # lockout, and its notice to the owner
    throttle: Throttle = field(default_factory=Throttle)  # sign-in and client authentication limits

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking service code (SQLAlchemy, argon2) off the event loop."""
        return await run_in_threadpool(fn, *args)


def canary(request: Request) -> Canary:
    value: Canary = request.app.state.canary
    return value
