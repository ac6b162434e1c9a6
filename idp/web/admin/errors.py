"""Errors of the admin API: ``{"error": code, "error_description": text, "field": name}`` with a status."""

from __future__ import annotations

from starlette.responses import JSONResponse

from idp.web.responses import NO_STORE


class ApiError(Exception):
    status = 400
    error = "invalid_request"

    def __init__(self, description: str, field: str | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.field = field

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        return error_response(self.status, self.error, self.description, self.field, headers)


class BadRequest(ApiError):
    status = 400
    error = "invalid_request"


class NotFound(ApiError):
    status = 404
    error = "not_found"


class Conflict(ApiError):
    status = 409
    error = "conflict"


class TooLarge(ApiError):
    status = 413
    error = "invalid_request"


class MethodNotAllowed(ApiError):
    status = 405
    error = "method_not_allowed"


def error_response(status: int, error: str, description: str, field: str | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, str] = {"error": error, "error_description": description}
    if field is not None:
        body["field"] = field
    return JSONResponse(body, status_code=status, headers={**NO_STORE, **(headers or {})})
