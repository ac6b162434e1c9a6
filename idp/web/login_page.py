"""What the login page shows besides the form: the client's logo, the links to reset a password and (when
``CANARY_SIGNUP`` allows it) to create an account, each carrying the authorization request back."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from idp.oauth import authorize as authz
from idp.web.context import Canary


def extras(c: Canary, req: authz.AuthorizationRequest) -> dict[str, Any]:
    back = quote(urlencode(req.params), safe="")
    logo = req.client.logo_uri
    return {
        "logo_uri": logo if logo and logo.startswith("https://") else None,
        "forgot_url": f"/password/forgot?authorization_request={back}",
        "signup_url": f"/signup?authorization_request={back}" if c.settings.signup != "off" else None,
    }
