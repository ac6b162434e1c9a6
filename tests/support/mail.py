"""An SMTP server's inbox for tests (aiosmtpd handler): every message it accepts, with its recipients."""

from __future__ import annotations

from typing import Any


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"
