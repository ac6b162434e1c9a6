"""HTTP shapes of errors: JSON for APIs (RFC 6749 §5.2 / RFC 6750 §3), an HTML page for browsers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def json_error(error: str, description: str, status: int = 400, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status,
                        headers={**NO_STORE, **(headers or {})})


def bearer_error(error: str, description: str, status: int = 401, scope: str | None = None) -> JSONResponse:
    challenge = f'Bearer realm="canary", error="{error}", error_description="{description}"'
    if scope:
        challenge += f', scope="{scope}"'
    return json_error(error, description, status, {"WWW-Authenticate": challenge})


def error_page(request: Request, error: str, description: str, status: int = 400) -> Response:
    from idp.web.context import canary

    templates = canary(request).templates
    response: HTMLResponse = templates.TemplateResponse(
        request, "error.html", {"error": error, "description": description}, status_code=status,
        headers=NO_STORE)
    return response
