from __future__ import annotations

import time

import pytest
from standardwebhooks.webhooks import Webhook

from analytics.alerts.signing import InvalidSecretError, generate_webhook_secret, headers, sign


def test_signature_verifies_with_standard_webhooks() -> None:
    secret = generate_webhook_secret()
    body = b'{"type":"account.inactive","data":{"account":"alice"}}'
    now = int(time.time())
    verified = Webhook(secret).verify(body, headers(secret, "msg_1", now, body))
    assert verified["type"] == "account.inactive"


def test_known_vector() -> None:
    # Example from the Standard Webhooks specification.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = b'{"test": 2432232314}'
    assert sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


@pytest.mark.parametrize("secret", ["nope", "whsec_!!!", "whsec_c2hvcnQ=", "whsec_é", "whsec_\ud800"])
def test_bad_secrets_are_refused(secret: str) -> None:
    with pytest.raises(InvalidSecretError):
        sign(secret, "msg_1", 1, b"{}")
