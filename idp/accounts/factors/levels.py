"""Authentication levels: the methods of a sign-in (RFC 8176 ``amr`` values) and the ``acr`` they give.

Two levels, ordered: ``SINGLE`` (one factor: a password) and ``MULTI`` (two factors: a password and a one-time
code or a passkey, or a passkey whose authenticator verified the user). A request for the single level is met
by either; a request for the multi-factor level only by ``MULTI``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

SINGLE = "urn:canary:acr:sfa"
MULTI = "urn:canary:acr:mfa"
SUPPORTED = (SINGLE, MULTI)
_RANK = {SINGLE: 1, MULTI: 2}

PASSWORD = "pwd"
OTP = "otp"  # a code from the authenticator app, or a recovery code
HARDWARE_KEY = "hwk"
SOFTWARE_KEY = "swk"  # a synced (backed-up) passkey
MFA = "mfa"


def amr_of(methods: Iterable[str]) -> list[str]:
    """The ``amr`` claim for these methods: each once, in order, ending with ``mfa`` when there are two factors
    (or when ``mfa`` is given: a passkey whose authenticator verified the user is two factors in one)."""
    given = list(methods)
    out = list(dict.fromkeys(m for m in given if m != MFA))
    if len(out) > 1 or MFA in given:
        out.append(MFA)
    return out


def passkey_method(backed_up: bool) -> str:
    return SOFTWARE_KEY if backed_up else HARDWARE_KEY


def acr_of(amr: Sequence[str]) -> str:
    return MULTI if MFA in amr else SINGLE


def requested(acr_values: str | None) -> list[str]:
    """The known levels among a request's ``acr_values``, in its order; unknown values are ignored."""
    return [value for value in (acr_values or "").split() if value in _RANK]


def satisfies(acr: str, wanted: Sequence[str]) -> bool:
    """Whether a session at level ``acr`` meets one of the ``wanted`` levels (none wanted: always)."""
    if not wanted:
        return True
    have = _RANK.get(acr or SINGLE, 1)
    return any(have >= _RANK[value] for value in wanted)


def needs_multi(wanted: Sequence[str]) -> bool:
    """Only the multi-factor level would do."""
    return bool(wanted) and not satisfies(SINGLE, wanted)
