"""Passkeys (WebAuthn Level 2, through py_webauthn): registration, and assertions for sign-in.

The relying party id is the issuer's host and the expected origin the issuer's scheme, host and port, so a
credential made for Canary is refused on any other origin. Credentials are discoverable (resident keys) so that
the login page can offer a sign-in without an e-mail address; the user handle is the account id (not personal
data). A passwordless sign-in requires user verification (PIN or biometric at the authenticator); as a second
factor after a password, presence is enough.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from idp.accounts.models import Passkey, User

MAX_CREDENTIAL_JSON = 16 * 1024
MAX_PASSKEYS = 20


class PasskeyError(Exception):
    """The browser's answer is not a valid credential for this ceremony."""


@dataclass(frozen=True)
class RelyingParty:
    id: str
    origin: str
    name: str = "Canary"

    @classmethod
    def for_issuer(cls, issuer: str) -> RelyingParty:
        parts = urlsplit(issuer)
        return cls(id=parts.hostname or "", origin=f"{parts.scheme}://{parts.netloc}")


@dataclass(frozen=True)
class Verified:
    user_id: str
    backed_up: bool


def of_user(db: Session, user_id: str) -> list[Passkey]:
    return list(db.scalars(select(Passkey).where(Passkey.user_id == user_id).order_by(Passkey.created_at)))


def registration_options(db: Session, rp: RelyingParty, user: User) -> tuple[str, str]:
    """Options for ``navigator.credentials.create`` (JSON) and the challenge to keep (base64url)."""
    options = generate_registration_options(
        rp_id=rp.id, rp_name=rp.name, user_id=user.id.encode(), user_name=user.email,
        user_display_name=user.name or user.email,
        exclude_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.id)) for p in of_user(db, user.id)],
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED, user_verification=UserVerificationRequirement.PREFERRED),
    )
    return options_to_json(options), bytes_to_base64url(options.challenge)


def _parse(credential: str) -> dict[str, Any]:
    if len(credential) > MAX_CREDENTIAL_JSON:
        raise PasskeyError("the credential is too large")
    try:
        value = json.loads(credential)
    except ValueError as exc:
        raise PasskeyError("the credential is not JSON") from exc
    if not isinstance(value, dict) or not isinstance(value.get("id"), str) or not isinstance(value.get("rawId"), str):
        raise PasskeyError("the credential has no id")
    if not isinstance(value.get("response"), dict):
        raise PasskeyError("the credential has no response")
    return value


def register(db: Session, rp: RelyingParty, user: User, credential: str, challenge: str, name: str,
             now: datetime) -> Passkey:
    if len(of_user(db, user.id)) >= MAX_PASSKEYS:
        raise PasskeyError(f"at most {MAX_PASSKEYS} passkeys per account")
    try:
        verified = verify_registration_response(
            credential=_parse(credential), expected_challenge=base64url_to_bytes(challenge),
            expected_rp_id=rp.id, expected_origin=rp.origin)
    except (WebAuthnException, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PasskeyError(f"the passkey could not be verified: {exc}") from exc
    credential_id = bytes_to_base64url(verified.credential_id)
    if db.get(Passkey, credential_id) is not None:
        raise PasskeyError("this passkey is already registered")
    row = Passkey(id=credential_id, user_id=user.id, name=(name.strip() or "Passkey")[:100],
                  public_key=verified.credential_public_key, sign_count=verified.sign_count,
                  backed_up=verified.credential_backed_up, created_at=now)
    db.add(row)
    db.flush()
    return row


def authentication_options(rp: RelyingParty, allowed: list[Passkey] | None, require_verification: bool
                           ) -> tuple[str, str]:
    """Options for ``navigator.credentials.get``: the user's passkeys (second factor), or none listed so the
    browser offers the discoverable ones (passwordless)."""
    options = generate_authentication_options(
        rp_id=rp.id,
        allow_credentials=[PublicKeyCredentialDescriptor(id=base64url_to_bytes(p.id)) for p in allowed or []],
        user_verification=(UserVerificationRequirement.REQUIRED if require_verification
                           else UserVerificationRequirement.PREFERRED),
    )
    return options_to_json(options), bytes_to_base64url(options.challenge)


def authenticate(db: Session, rp: RelyingParty, credential: str, challenge: str, *, user_id: str | None,
                 require_verification: bool, now: datetime) -> Verified:
    """Checks an assertion; ``user_id`` (second factor) restricts it to that account's passkeys. Updates the
    signature counter (a counter that goes back is refused by the library: a cloned authenticator)."""
    parsed = _parse(credential)
    row = db.get(Passkey, parsed["rawId"])
    if row is None or (user_id is not None and row.user_id != user_id):
        raise PasskeyError("this passkey is not registered for the account")
    handle = parsed["response"].get("userHandle")
    if handle is not None and not isinstance(handle, str):
        raise PasskeyError("the passkey's user handle is not base64url")
    if handle:
        try:
            matches = base64url_to_bytes(handle) == row.user_id.encode()
        except (ValueError, TypeError):
            matches = False
        if not matches:
            raise PasskeyError("the passkey's user handle does not match its account")
    try:
        verified = verify_authentication_response(
            credential=parsed, expected_challenge=base64url_to_bytes(challenge), expected_rp_id=rp.id,
            expected_origin=rp.origin, credential_public_key=row.public_key,
            credential_current_sign_count=row.sign_count, require_user_verification=require_verification)
    except (WebAuthnException, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise PasskeyError(f"the passkey could not be verified: {exc}") from exc
    row.sign_count = verified.new_sign_count
    row.backed_up = verified.credential_backed_up
    row.last_used_at = now
    return Verified(user_id=row.user_id, backed_up=row.backed_up)


def remove(db: Session, user_id: str, passkey_id: str) -> bool:
    removed = db.execute(delete(Passkey).where(Passkey.user_id == user_id, Passkey.id == passkey_id))
    return bool(getattr(removed, "rowcount", 0))


def remove_all(db: Session, user_id: str) -> int:
    removed = db.execute(delete(Passkey).where(Passkey.user_id == user_id))
    return int(getattr(removed, "rowcount", 0) or 0)
