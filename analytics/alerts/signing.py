"""Standard Webhooks signatures (https://www.standardwebhooks.com/, "Verifying webhook authenticity").

The signed content is `{webhook-id}.{webhook-timestamp}.{body}`; the key is the base64-decoded part of
the secret after `whsec_`; the header value is `v1,<base64 HMAC-SHA256>`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"


class InvalidSecretError(ValueError):
    pass


def generate_webhook_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_key(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise InvalidSecretError("webhook secrets start with whsec_")
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except ValueError as error:  # binascii.Error, or characters outside ASCII
        raise InvalidSecretError("webhook secret is not base64 after whsec_") from error
    if not 24 <= len(key) <= 64:
        raise InvalidSecretError("webhook secret must decode to 24 to 64 bytes")
    return key


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def headers(secret: str, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, message_id, timestamp, body),
    }
