"""Errors of alert configuration. `field` names the input at fault as the admin API and the CLI call it
(`threshold_days`, `webhook_ids[1]`, `emails[0]`), so each caller shows it as is."""

from __future__ import annotations


class AlertConfigError(ValueError):
    """A rule or webhook endpoint that may not be stored as given."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class UnknownRule(LookupError):
    def __init__(self, rule_id: int) -> None:
        super().__init__(f"no alert rule {rule_id}")
        self.rule_id = rule_id


class UnknownEndpoint(LookupError):
    def __init__(self, endpoint_id: int) -> None:
        super().__init__(f"no webhook endpoint {endpoint_id}")
        self.endpoint_id = endpoint_id


class EndpointInUse(Exception):
    """A webhook endpoint still notified by rules cannot be deleted."""

    def __init__(self, endpoint_id: int, rule_ids: list[int]) -> None:
        super().__init__(f"webhook endpoint {endpoint_id} is used by alert rule(s) {', '.join(map(str, rule_ids))}; "
                         "remove it from them first")
        self.endpoint_id = endpoint_id
        self.rule_ids = rule_ids
