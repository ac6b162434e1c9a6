"""Sending one webhook message, signed per Standard Webhooks (or unsigned, to Slack-compatible receivers)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from analytics.alerts.signing import headers


@dataclass(frozen=True, slots=True)
class Outcome:
    delivered: bool
    error: str | None = None
    gone: bool = False
    """The receiver answered 410 Gone: stop sending to it."""
    permanent: bool = False
    """Retrying cannot help (e.g. an e-mail address the server refuses)."""


def send_webhook(client: httpx.Client, url: str, secret: str, message_id: str, body: str, *,
                 signed: bool = True) -> Outcome:
    """POST `body`; 2xx is delivered. The signature timestamp is the wall clock at sending time, since
    receivers reject timestamps too far from their own clock. Unless `signed` (Slack-compatible receivers
    ignore signatures), only the content type is sent.

    A message that cannot be sent at all — a URL the client refuses (``httpx.InvalidURL``, a host name that
    does not encode: ``UnicodeError``), a secret that does not decode — fails for good: retrying cannot help."""
    content = body.encode()
    try:
        sent = (headers(secret, message_id, int(time.time()), content) if signed
                else {"content-type": "application/json"})
        response = client.post(url, content=content, headers=sent)
    except httpx.HTTPError as error:
        return Outcome(False, _describe(error))
    except (httpx.InvalidURL, ValueError) as error:
        return Outcome(False, "cannot be sent: " + _describe(error), permanent=True)
    if 200 <= response.status_code < 300:
        return Outcome(True)
    return Outcome(False, f"HTTP {response.status_code}", gone=response.status_code == 410)


def _describe(error: Exception) -> str:
    """The error as stored and shown: text that encodes as UTF-8 (a URL's lone surrogates escaped)."""
    return f"{type(error).__name__}: {error}".encode("utf-8", "backslashreplace").decode()[:500]
