"""The routes of the account pages people reach from the login page and from mail: password reset, e-mail
verification, sign-up, invitations and ``/account``."""

from __future__ import annotations

from idp.web import password_reset

routes = [
    *password_reset.routes,
]
