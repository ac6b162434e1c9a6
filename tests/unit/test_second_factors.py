"""Second factors against a real SQLite database and a clock the tests move: the TOTP window and replay, recovery
codes, sealed secrets, levels, and the lockout wrong codes count toward."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

import idp.oauth.models  # noqa: F401  (every table)
from idp.accounts.factors import challenges, levels, policy, recovery, sealing, totp
from idp.accounts.models import Membership, Organization, TotpFactor, User
from idp.db import Base
from tests.support.clock import MovableClock
from tests.support.factors import align

KEY = "k" * 40


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Session]:
    engine = create_engine(f"sqlite:///{tmp_path / 'factors.db'}")
    Base.metadata.create_all(engine)
    with sessionmaker(engine, expire_on_commit=False)() as session:
        yield session
    engine.dispose()


def new_user(db: Session, email: str = "ada@example.com") -> User:
    user = User(email=email, name="Ada")
    db.add(user)
    db.flush()
    return user


def enrolled(db: Session, clock: MovableClock, key: str = KEY) -> tuple[User, str]:
    user = new_user(db)
    secret = totp.start_enrollment(db, user, key, clock.now())
    align(clock)
    assert totp.confirm(db, user.id, pyotp.TOTP(secret).at(clock.now()), key, clock.now())
    return user, secret


def test_a_code_is_accepted_one_step_either_side_and_never_twice(db: Session) -> None:
    clock = MovableClock()
    user, secret = enrolled(db, clock)
    now = clock.now()
    assert not totp.verify(db, user.id, pyotp.TOTP(secret).at(now), KEY, now), "the enrollment code was replayed"
    ahead = pyotp.TOTP(secret).at(now + timedelta(seconds=30))
    assert totp.verify(db, user.id, ahead, KEY, now)
    assert not totp.verify(db, user.id, ahead, KEY, now)
    too_far = pyotp.TOTP(secret).at(now + timedelta(seconds=60))
    assert not totp.verify(db, user.id, too_far, KEY, now)
    clock.advance(60)  # the code two steps ahead is now one step ahead
    later = clock.now()
    assert totp.verify(db, user.id, too_far, KEY, later)
    clock.advance(90)
    stale = pyotp.TOTP(secret).at(later)
    assert not totp.verify(db, user.id, stale, KEY, clock.now()), "a code from three steps ago"
    assert not totp.verify(db, user.id, "12345", KEY, clock.now())
    assert not totp.verify(db, user.id, "abcdef", KEY, clock.now())


def test_an_earlier_step_within_the_window_is_accepted_after_a_pause(db: Session) -> None:
    clock = MovableClock()
    user, secret = enrolled(db, clock)
    clock.advance(60)
    behind = pyotp.TOTP(secret).at(clock.now() - timedelta(seconds=30))
    assert totp.verify(db, user.id, behind, KEY, clock.now())


def test_an_unconfirmed_factor_does_not_sign_in_and_enrollment_replaces_it(db: Session) -> None:
    clock = MovableClock()
    user = new_user(db)
    first = totp.start_enrollment(db, user, KEY, clock.now())
    assert not totp.confirmed(db, user.id)
    assert not totp.verify(db, user.id, pyotp.TOTP(first).at(clock.now()), KEY, clock.now())
    second = totp.start_enrollment(db, user, KEY, clock.now())
    assert second != first and totp.pending_secret(db, user.id, KEY) == second
    assert totp.confirm(db, user.id, pyotp.TOTP(second).at(clock.now()), KEY, clock.now())
    with pytest.raises(ValueError, match="already set up"):
        totp.start_enrollment(db, user, KEY, clock.now())


def test_the_secret_is_sealed_with_the_key_and_bound_to_its_user(db: Session) -> None:
    clock = MovableClock()
    user, secret = enrolled(db, clock)
    stored = db.get(TotpFactor, user.id)
    assert stored is not None and sealing.is_sealed(stored.secret) and secret not in stored.secret
    with pytest.raises(sealing.SecretUnreadable, match="set CANARY_KEY_ENCRYPTION_KEY"):
        sealing.open_secret("", user.id, stored.secret)
    with pytest.raises(sealing.SecretUnreadable, match="does not decrypt"):
        sealing.open_secret("x" * 40, user.id, stored.secret)
    with pytest.raises(sealing.SecretUnreadable):
        sealing.open_secret(KEY, "another-user", stored.secret)
    assert sealing.open_secret(KEY, user.id, stored.secret) == secret


def test_without_a_key_the_secret_is_stored_as_given(db: Session) -> None:
    clock = MovableClock()
    user, secret = enrolled(db, clock, key="")
    stored = db.get(TotpFactor, user.id)
    assert stored is not None and stored.secret == secret


def test_recovery_codes_are_single_use_and_stored_hashed(db: Session) -> None:
    clock = MovableClock()
    user = new_user(db)
    codes = recovery.replace_codes(db, user.id, clock.now())
    assert len(codes) == 10 and len(set(codes)) == 10
    from idp.accounts.models import RecoveryCode

    stored = {row.code_hash for row in db.query(RecoveryCode).filter_by(user_id=user.id)}
    assert not any(code.replace("-", "") in h or code in h for code in codes for h in stored)
    assert recovery.use(db, user.id, codes[0].upper().replace("-", " "), clock.now())
    assert not recovery.use(db, user.id, codes[0], clock.now())
    assert recovery.remaining(db, user.id) == 9
    other = new_user(db, "bob@example.com")
    assert not recovery.use(db, other.id, codes[1], clock.now()), "another account's code"
    assert not recovery.use(db, user.id, "not-a-code", clock.now())
    recovery.replace_codes(db, user.id, clock.now())
    assert not recovery.use(db, user.id, codes[1], clock.now()), "replaced codes stop working"


def test_wrong_second_factors_lock_the_account_and_a_password_does_not_clear_them(db: Session) -> None:
    clock = MovableClock()
    user = new_user(db)
    ceremonies = [challenges.load(db, challenges.start(db, challenges.SECOND_STEP, clock.now(), user_id=user.id),
                                  challenges.SECOND_STEP, clock.now()) for _ in range(2)]
    for _ in range(4):
        counted = policy.count_answer(db, ceremonies[0], user.id, 5, 900, clock.now())
        assert counted is not None and counted.locks is None
    assert counted.left == 1
    user.failed_logins = 0  # what a correct password does
    db.flush()
    db.refresh(user)
    assert user.factor_failures == 4 and user.locked_until is None
    last = policy.count_answer(db, ceremonies[1], user.id, 5, 900, clock.now())  # another ceremony: same account
    db.refresh(user)
    assert last is not None and last.locks == user.locked_until and user.locked_until > clock.now()
    assert user.factor_failures == 0
    assert policy.count_answer(db, ceremonies[1], user.id, 5, 900, clock.now()) is None, "locked: not even checked"
    policy.answered_right(db, user.id, last)  # the answer that took the last try was right: the lock goes
    db.refresh(user)
    assert user.locked_until is None and user.factor_failures == 0


def test_a_ceremony_counts_no_more_than_its_answers(db: Session) -> None:
    clock = MovableClock()
    user = new_user(db)
    row = challenges.load(db, challenges.start(db, challenges.SECOND_STEP, clock.now(), user_id=user.id),
                          challenges.SECOND_STEP, clock.now())
    assert row is not None
    left = [challenges.reserve(db, row) for _ in range(challenges.MAX_ATTEMPTS + 2)]
    assert left == [4, 3, 2, 1, 0, None, None]


def test_organization_requirement_and_reset(db: Session) -> None:
    clock = MovableClock()
    user, _ = enrolled(db, clock)
    org = Organization(slug="acme", name="Acme")
    db.add(org)
    db.flush()
    db.add(Membership(user_id=user.id, organization_id=org.id))
    db.flush()
    assert not policy.required_by_organization(db, user.id)
    policy.set_organization_requirement(org, True)
    db.flush()
    assert policy.required_by_organization(db, user.id)
    recovery.replace_codes(db, user.id, clock.now())
    had = policy.reset(db, user.id)
    assert had == policy.Factors(totp=True, passkeys=0, recovery_codes=10)
    assert policy.factors_of(db, user.id) == policy.Factors(totp=False, passkeys=0, recovery_codes=0)


def test_levels() -> None:
    assert levels.amr_of(["pwd"]) == ["pwd"]
    assert levels.amr_of(["pwd", "otp"]) == ["pwd", "otp", "mfa"]
    assert levels.amr_of(["hwk", "mfa"]) == ["hwk", "mfa"]
    assert levels.acr_of(["pwd"]) == levels.SINGLE and levels.acr_of(["pwd", "hwk", "mfa"]) == levels.MULTI
    assert levels.requested(f"urn:other {levels.MULTI}") == [levels.MULTI]
    assert levels.satisfies(levels.SINGLE, []) and levels.satisfies("", [levels.SINGLE])
    assert not levels.satisfies(levels.SINGLE, [levels.MULTI])
    assert levels.satisfies(levels.SINGLE, [levels.MULTI, levels.SINGLE])
    assert levels.satisfies(levels.MULTI, [levels.SINGLE])
    assert levels.needs_multi([levels.MULTI]) and not levels.needs_multi([levels.MULTI, levels.SINGLE])


@pytest.mark.parametrize("response", [
    {},
    {"clientDataJSON": "!!", "authenticatorData": "AA", "signature": "AA"},
    {"clientDataJSON": 5, "authenticatorData": [], "signature": {}},
    {"clientDataJSON": "eyJ0eXBlIjoid2ViYXV0aG4uZ2V0In0", "authenticatorData": "AAAA", "signature": "AA",
     "userHandle": None},
])
def test_malformed_passkey_answers_are_refused_not_crashes(db: Session, response: dict) -> None:
    import json

    from idp.accounts.factors import passkeys
    from idp.accounts.models import Passkey

    clock = MovableClock()
    user = new_user(db)
    db.add(Passkey(id="Y3JlZA", user_id=user.id, name="k", public_key=b"\xa1\x01\x02", sign_count=0,
                   backed_up=False, created_at=clock.now()))
    db.flush()
    rp = passkeys.RelyingParty.for_issuer("https://id.example.com")
    assert rp == passkeys.RelyingParty(id="id.example.com", origin="https://id.example.com")
    credential = json.dumps({"id": "Y3JlZA", "rawId": "Y3JlZA", "type": "public-key", "response": response})
    with pytest.raises(passkeys.PasskeyError):
        passkeys.authenticate(db, rp, credential, "Y2hhbGxlbmdl", user_id=None, require_verification=True,
                              now=clock.now())
    with pytest.raises(passkeys.PasskeyError, match="not registered"):
        passkeys.authenticate(db, rp, credential, "Y2hhbGxlbmdl", user_id="someone-else", require_verification=False,
                              now=clock.now())
    with pytest.raises(passkeys.PasskeyError):
        passkeys.register(db, rp, user, credential, "Y2hhbGxlbmdl", "k", clock.now())
