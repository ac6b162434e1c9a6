from __future__ import annotations

import pytest

from analytics.alerts import AlertConfigError, create_rule, create_webhook_endpoint
from tests.alerts.conftest import AlertDatabase


def test_endpoint_and_rule_validation(sqlite_database: AlertDatabase) -> None:
    with sqlite_database.session_factory()() as session:
        with pytest.raises(AlertConfigError) as error:
            create_webhook_endpoint(session, "ftp://example.com/x")
        assert error.value.field == "url"
        with pytest.raises(AlertConfigError) as error:
            create_webhook_endpoint(session, "https://example.com/x", secret="plain")
        assert error.value.field == "secret"
        endpoint = create_webhook_endpoint(session, "https://example.com/x")
        assert endpoint.secret.startswith("whsec_")
        for kwargs, field in [
            ({"threshold_days": 0}, "threshold_days"),
            ({"threshold_days": -3}, "threshold_days"),
            ({"threshold_days": 7, "endpoint_ids": [], "emails": []}, "channels"),
            ({"threshold_days": 7, "endpoint_ids": [999]}, "endpoint_ids"),
            ({"threshold_days": 7, "emails": ["not-an-address"]}, "emails"),
        ]:
            arguments = {"endpoint_ids": [endpoint.id], **kwargs}
            with pytest.raises(AlertConfigError) as error:
                create_rule(session, "quiet", **arguments)  # type: ignore[arg-type]
            assert error.value.field == field
        rule = create_rule(session, "quiet", 7, endpoint_ids=[endpoint.id], emails=["a@example.com"])
        assert {(c.endpoint_id, c.email) for c in rule.channels} == {(endpoint.id, None), (None, "a@example.com")}
