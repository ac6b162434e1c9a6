"""Sending one notification by e-mail over SMTP."""

from __future__ import annotations

import json
import smtplib
import ssl
from email.message import EmailMessage

from analytics.alerts.settings import SmtpSettings
from analytics.alerts.webhooks import Outcome

SUBJECTS = {
    "account.inactive": "{who} has been inactive for {days} days",
    "account.reactivated": "{who} is active again",
}


def compose(settings: SmtpSettings, recipient: str, message_id: str, body: str) -> EmailMessage:
    event = json.loads(body)
    data = event["data"]
    who = data.get("email") or data["account"]
    message = EmailMessage()
    message["From"] = settings.from_address
    message["To"] = recipient
    message["Subject"] = SUBJECTS.get(event["type"], "{who}: {type}").format(
        who=who, days=data.get("inactive_days"), type=event["type"]
    )
    domain = settings.from_address.rpartition("@")[2] or "localhost"
    message["Message-ID"] = f"<{message_id}@{domain}>"
    lines = [
        f"Account: {data['account']}",
        f"E-mail: {data.get('email') or '-'}",
        f"Organization: {data.get('organization') or 'all'}",
        f"Last seen: {data.get('last_seen') or 'never'}",
        f"Inactive days: {data.get('inactive_days')}",
        f"Rule: {data.get('rule_name')} ({data.get('threshold_days')} days)",
        "",
        json.dumps(event, indent=2),
    ]
    message.set_content("\n".join(lines))
    return message


def send_email(settings: SmtpSettings, recipient: str, message_id: str, body: str) -> Outcome:
    message = compose(settings, recipient, message_id, body)
    try:
        smtp: smtplib.SMTP
        if settings.security == "ssl":
            smtp = smtplib.SMTP_SSL(
                settings.host,
                settings.port,
                timeout=settings.timeout_seconds,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
        with smtp:
            if settings.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.username:
                smtp.login(settings.username, settings.password or "")
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as error:
        return Outcome(False, f"recipient refused: {error.recipients}"[:500], permanent=True)
    except (smtplib.SMTPException, OSError) as error:
        return Outcome(False, f"{type(error).__name__}: {error}"[:500])
    return Outcome(True)
