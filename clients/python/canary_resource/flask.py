"""Flask in one line: ``protect(app, issuer=..., record_usage=True)``.

It wraps ``app.wsgi_app`` in ``CanaryWSGI``, tells it each request's route template from Flask's URL rule
(``/reports/<int:id>`` is recorded as ``/reports/{id}``), and answers the ``BearerError`` that ``requires``
raises with its RFC 6750 status and ``WWW-Authenticate`` header.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, request

from canary_resource.claims import AccessClaims
from canary_resource.errors import BearerError
from canary_resource.guard import Guard
from canary_resource.naming import flask_template
from canary_resource.wsgi import CLAIMS_KEY, ROUTE_KEY, CanaryWSGI


def protect(app: Flask, issuer: str | None = None, **options: Any) -> Guard:
    middleware = CanaryWSGI(app.wsgi_app, issuer, **options)
    app.wsgi_app = middleware  # type: ignore[method-assign]
    guard = middleware.guard

    @app.before_request
    def name_route() -> None:
        if request.url_rule is not None:
            request.environ[ROUTE_KEY] = flask_template(request.url_rule.rule)

    def refuse(err: BearerError) -> Response:
        body = {"error": err.error or "unauthorized", "error_description": err.description}
        response = Response(status=err.status, mimetype="application/json")
        response.set_data(json.dumps(body))
        for name, value in guard.error_headers(err):
            response.headers[name] = value
        return response

    app.register_error_handler(BearerError, refuse)
    return guard


def claims() -> AccessClaims | None:
    """The verified claims of the Flask request being handled."""
    found: AccessClaims | None = request.environ.get(CLAIMS_KEY)
    return found
