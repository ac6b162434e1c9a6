"""The second-factor endpoints, in one list for ``idp.app``."""

from __future__ import annotations

from starlette.routing import Route

from idp.web.factors import confirm, handoff, passkey_signin, second_step, security_page
from idp.web.factors.common import CONFIRM_PATH, PATH

routes = [
    Route(handoff.SECOND_STEP_PATH, second_step.second_factor, methods=["GET", "POST"]),
    Route(handoff.ENROLL_PATH, second_step.enroll, methods=["GET", "POST"]),
    Route("/login/passkey/options", passkey_signin.options, methods=["POST"]),
    Route("/login/passkey", passkey_signin.verify, methods=["POST"]),
    Route("/factors/passkeys.js", passkey_signin.script, methods=["GET"]),
    Route(PATH, security_page.security, methods=["GET"]),
    Route(PATH + "/passkeys/options", security_page.registration_options, methods=["POST"]),
    Route(PATH + "/passkeys", security_page.register, methods=["POST"]),
    Route(CONFIRM_PATH, confirm.confirm, methods=["GET", "POST"]),
    Route(confirm.SECOND_PATH, confirm.second_factor, methods=["GET", "POST"]),
    Route(confirm.PASSKEY_PATH + "/options", confirm.passkey_options, methods=["POST"]),
    Route(confirm.PASSKEY_PATH, confirm.passkey_verify, methods=["POST"]),
    Route(PATH + "/{action}", security_page.act, methods=["POST"]),
]
