"""Webhook endpoints alert rules notify: the one place that checks and stores them.

The `secret` is a Standard Webhooks secret (`whsec_<base64>`), shown once when generated. The `format` is
`standard` (signed JSON) or `slack` (a Slack-compatible incoming webhook; `analytics.alerts.slack`). An
endpoint still named by a rule cannot be deleted.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypedDict
from urllib.parse import urlsplit

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analytics.alerts.addresses import ForbiddenAddress, check_host, numeric_host
from analytics.alerts.errors import AlertConfigError, EndpointInUse, UnknownEndpoint
from analytics.alerts.models import AlertChannel, WebhookEndpoint
from analytics.alerts.signing import InvalidSecretError, generate_webhook_secret, secret_key
from analytics.alerts.slack import FORMATS

MAX_URL_LENGTH = 2000
MAX_SECRET_LENGTH = 200
MAX_DESCRIPTION_LENGTH = 500
_LABEL = re.compile(r"[A-Za-z0-9_-]{1,63}")


class EndpointChanges(TypedDict, total=False):
    url: str
    secret: str
    description: str
    format: str


def utc_now() -> datetime:
    return datetime.now(UTC)


def validate_url(url: str, *, allow_private: bool = False) -> str:
    """An http(s) URL with a host, without spaces or control characters, whose host is not a loopback,
    private or otherwise internal address as written (``analytics.alerts.addresses``; names are checked again
    once resolved, at delivery) unless ``allow_private``.

    The URL must also be one a request can be sent to — a port from 1 to 65535 and a host that is an address
    or a valid (IDNA) host name — since a URL that cannot even be sent would fail every delivery to it."""
    if not isinstance(url, str) or not url:
        raise AlertConfigError("url", "must be an http(s) URL with a host")
    if len(url) > MAX_URL_LENGTH:
        raise AlertConfigError("url", f"must have at most {MAX_URL_LENGTH} characters")
    if any(char.isspace() or ord(char) < 32 or ord(char) == 127 for char in url):
        raise AlertConfigError("url", "must not contain spaces or control characters")
    if not _is_unicode(url):
        raise AlertConfigError("url", "must be valid Unicode")
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
        port = parts.port  # refuses a port that is not a number or out of range
    except ValueError as error:  # urlsplit refuses some malformed URLs outright
        raise AlertConfigError("url", f"is malformed: {error}") from error
    if parts.scheme not in ("http", "https") or not hostname:
        raise AlertConfigError("url", "must be an http(s) URL with a host")
    if port == 0:
        raise AlertConfigError("url", "must have a port from 1 to 65535")
    if not allow_private:
        try:
            check_host(hostname)
        except ForbiddenAddress as refused:
            raise AlertConfigError("url", f"must reach a public address: {refused}") from refused
    _check_sendable_host(url)
    return url


def _is_unicode(text: str) -> bool:
    """False for text holding lone surrogates (valid in JSON and in undecodable command-line arguments),
    which can be neither stored as UTF-8 nor shown."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_sendable_host(url: str) -> None:
    """AlertConfigError unless the HTTP client can send to ``url``'s host: an address, or a name of
    dot-separated labels of 1 to 63 letters, digits, hyphens or underscores (253 at most in all) once
    IDNA-encoded, whose ``xn--`` labels are valid Punycode."""
    try:
        host = httpx.URL(url).raw_host.decode("ascii")
    except (httpx.InvalidURL, ValueError) as error:  # IDNAError and UnicodeError are ValueErrors
        raise AlertConfigError("url", f"has an invalid host: {error}") from error
    if numeric_host(host) is not None:
        return
    labels = (host[:-1] if host.endswith(".") else host).split(".")
    if len(host) > 254 or not all(_LABEL.fullmatch(label) for label in labels):
        raise AlertConfigError("url", "has an invalid host name: dot-separated labels of 1 to 63 letters, digits "
                                      "or hyphens, 253 characters at most")
    for label in labels:
        if label.lower().startswith("xn--"):
            try:
                label.encode("ascii").decode("idna")
            except UnicodeError:
                raise AlertConfigError("url", f"has an invalid host name: {label} is not valid Punycode") from None


def _secret(secret: str) -> str:
    try:
        secret_key(secret)
    except InvalidSecretError as error:
        raise AlertConfigError("secret", str(error)) from error
    if len(secret) > MAX_SECRET_LENGTH:
        raise AlertConfigError("secret", f"must have at most {MAX_SECRET_LENGTH} characters")
    return secret


def _description(description: str) -> str:
    if len(description) > MAX_DESCRIPTION_LENGTH:
        raise AlertConfigError("description", f"must have at most {MAX_DESCRIPTION_LENGTH} characters")
    return description


def _format(format_: object) -> str:
    if format_ not in FORMATS:
        raise AlertConfigError("format", f"must be one of {', '.join(FORMATS)}, not {format_!r}")
    return str(format_)


def create_webhook_endpoint(
    session: Session,
    url: str,
    secret: str | None = None,
    description: str = "",
    clock: Callable[[], datetime] = utc_now,
    *,
    allow_private: bool = False,
    format_: str = "standard",
) -> WebhookEndpoint:
    """A new endpoint; without `secret`, one is generated (read it back from `endpoint.secret`).
    `allow_private`: the URL may name an internal address (development only). `format_`: `FORMATS`."""
    endpoint = WebhookEndpoint(
        format=_format(format_),
        url=validate_url(url, allow_private=allow_private),
        secret=_secret(secret or generate_webhook_secret()),
        description=_description(description),
        created_at=clock(),
        failure_count=0,
    )
    session.add(endpoint)
    session.flush()
    return endpoint


def get_webhook_endpoint(session: Session, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise UnknownEndpoint(endpoint_id)
    return endpoint


def webhook_endpoints_page(
    session: Session, offset: int = 0, limit: int | None = None
) -> tuple[list[WebhookEndpoint], int]:
    """Endpoints in order of creation, and how many there are."""
    total = session.scalar(select(func.count()).select_from(WebhookEndpoint)) or 0
    rows = session.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id).offset(offset).limit(limit))
    return list(rows), total


def update_webhook_endpoint(session: Session, endpoint_id: int, changes: EndpointChanges, *,
                            allow_private: bool = False) -> WebhookEndpoint:
    """Change only the fields given; a new secret applies to the next attempt at once."""
    endpoint = get_webhook_endpoint(session, endpoint_id)
    if "url" in changes:
        endpoint.url = validate_url(changes["url"], allow_private=allow_private)
    if "secret" in changes:
        endpoint.secret = _secret(changes["secret"])
    if "description" in changes:
        endpoint.description = _description(changes["description"])
    if "format" in changes:
        endpoint.format = _format(changes["format"])
    session.flush()
    return endpoint


def enable_webhook_endpoint(session: Session, endpoint: WebhookEndpoint) -> None:
    """Enabled again: the next delivery run queues again the notifications that disabling it held
    (``dispatcher.requeue_held``)."""
    endpoint.disabled_at = None
    endpoint.disabled_reason = None
    endpoint.failure_count = 0


def delete_webhook_endpoint(session: Session, endpoint_id: int) -> None:
    """Its deliveries go with it. Refused (`EndpointInUse`) while a rule notifies it."""
    endpoint = get_webhook_endpoint(session, endpoint_id)
    rules = sorted(set(session.scalars(select(AlertChannel.rule_id).where(AlertChannel.endpoint_id == endpoint_id))))
    if rules:
        raise EndpointInUse(endpoint_id, rules)
    session.delete(endpoint)


def webhook_dict(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """What the admin API and the CLI show of an endpoint; never its secret."""
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "format": endpoint.format,
        "description": endpoint.description,
        "created_at": _iso(endpoint.created_at),
        "disabled": endpoint.disabled_at is not None,
        "disabled_at": _iso(endpoint.disabled_at),
        "disabled_reason": endpoint.disabled_reason,
        "failure_count": endpoint.failure_count,
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
