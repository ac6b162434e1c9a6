"""The routes of the account pages people reach from the login page and from mail: password reset, e-mail
verification, sign-up, invitations and ``/account``."""

from __future__ import annotations

from idp.web import account, email_verification, invitations, password_reset, signup

routes = [
    *password_reset.routes,
    *email_verification.routes,
    *signup.routes,
    *invitations.routes,
    *account.routes,
]
