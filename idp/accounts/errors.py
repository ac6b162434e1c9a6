"""Errors raised by account services; ``idp.web`` maps them to HTTP."""


class AccountError(Exception):
    code = "invalid_request"


class EmailTaken(AccountError):
    code = "email_taken"


class NotFound(AccountError):
    code = "not_found"


class SignInFailed(AccountError):
    """A password sign-in was refused; ``reason`` is recorded, the user sees one generic message."""

    code = "access_denied"

    def __init__(self, reason: str, user_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason  # bad_password | unknown_user | locked | disabled
        self.user_id = user_id
