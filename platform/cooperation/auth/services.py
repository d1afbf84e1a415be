"""Sign-in logic, independent of HTTP: password step, second-factor step, throttling, audit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from cooperation.accounts.models import User, UserStatus
from cooperation.audit.service import Actor, record
from cooperation.db import utcnow
from cooperation.membership.models import PartyStatus
from cooperation.permissions import Role
from cooperation.security import passwords, recovery, throttle, totp
from cooperation.security import webauthn as webauthn_mfa


class LoginRefused(Exception):
    """Sign-in refused; the message is safe to show (it never says whether an account exists)."""


def policy() -> throttle.ThrottlePolicy:
    s = current_app.config["COOPERATION_SETTINGS"]
    return throttle.ThrottlePolicy(s.login_max_failures_per_account, s.login_max_failures_per_address,
                                   timedelta(minutes=s.login_failure_window_minutes))


def _throttled_message(wait: timedelta) -> str:
    minutes = max(1, int(wait.total_seconds() // 60) + 1)
    return _("Too many failed attempts. For your security, sign-in is paused; try again in "
             "%(minutes)d minutes.", minutes=minutes)


def check_password(session: Session, email: str, password: str, ip: str) -> User:
    """First step. Raises LoginRefused; records failures; never reveals whether the account exists."""
    email = email.strip().lower()
    wait = throttle.retry_after(session, policy(), email, ip)
    if wait is not None:
        record(session, "auth.login", Actor(None, email, "", ip), outcome="failure",
               details={"reason": "throttled", "step": "password"})
        raise LoginRefused(_throttled_message(wait))
    user = session.scalar(select(User).where(User.email == email))
    # verify_password hashes even when the user is unknown, so timing does not tell.
    ok = passwords.verify_password(user.password_hash if user else None, password)
    if not ok or user is None:
        throttle.record_failure(session, email, ip)
        record(session, "auth.login", Actor(user.id if user else None, email, user.party.code if user else "", ip),
               outcome="failure", details={"reason": "bad_credentials", "step": "password"})
        raise LoginRefused(_("The e-mail address or password is not correct."))
    actor = Actor(user.id, user.email, user.party.code, ip)
    if user.status in (UserStatus.SUSPENDED, UserStatus.DEACTIVATED) or user.party.status != PartyStatus.ACTIVE:
        # Only someone who knows the password learns this.
        record(session, "auth.login", actor, outcome="failure", details={"reason": f"account_{user.status.value}"})
        raise LoginRefused(_("This account is not active. Please contact your focal point or the "
                             "Secretariat."))
    if passwords.needs_rehash(user.password_hash or ""):
        user.password_hash = passwords.hash_password(password)
    return user


def webauthn_required(user: User) -> bool:
    s = current_app.config["COOPERATION_SETTINGS"]
    return s.require_webauthn_for_admins and user.role == Role.SECRETARIAT_ADMIN


@dataclass(frozen=True)
class SecondFactorResult:
    method: str
    recovery_codes_left: int | None = None


def check_totp(session: Session, user: User, code: str, ip: str) -> SecondFactorResult:
    _guard_second_factor(session, user, ip)
    step = totp.matching_step(user.totp_secret or "", code, user.totp_last_step) if user.totp_secret else None
    if step is None:
        _second_factor_failed(session, user, ip, "bad_totp")
        raise LoginRefused(_("That code is not valid, or was already used. Wait for the next code and try again."))
    user.totp_last_step = step
    return SecondFactorResult("totp")


def check_recovery_code(session: Session, user: User, code: str, ip: str) -> SecondFactorResult:
    _guard_second_factor(session, user, ip)
    if not recovery.use_code(session, user.id, code):
        _second_factor_failed(session, user, ip, "bad_recovery_code")
        raise LoginRefused(_("That recovery code is not valid or was already used."))
    left = recovery.remaining(session, user.id)
    record(session, "mfa.recovery_code.use", Actor(user.id, user.email, user.party.code, ip),
           target_type="user", target_id=user.id, details={"remaining": left})
    return SecondFactorResult("recovery_code", left)


def check_webauthn(session: Session, user: User, rp: webauthn_mfa.RelyingParty, credential: object,
                   challenge: bytes, ip: str) -> SecondFactorResult:
    """A security key assertion; a failure counts towards the throttle like a bad code."""
    _guard_second_factor(session, user, ip)
    try:
        webauthn_mfa.authenticate(session, user, rp, credential, challenge,
                                  Actor(user.id, user.email, user.party.code, ip))
    except webauthn_mfa.WebAuthnError as failed:
        _second_factor_failed(session, user, ip, failed.reason)
        raise LoginRefused(str(failed)) from failed
    return SecondFactorResult("webauthn")


def _guard_second_factor(session: Session, user: User, ip: str) -> None:
    wait = throttle.retry_after(session, policy(), user.email, ip)
    if wait is not None:
        record(session, "auth.login", Actor(user.id, user.email, user.party.code, ip), outcome="failure",
               details={"reason": "throttled", "step": "second_factor"})
        raise LoginRefused(_throttled_message(wait))


def _second_factor_failed(session: Session, user: User, ip: str, reason: str) -> None:
    throttle.record_failure(session, user.email, ip)
    record(session, "auth.login", Actor(user.id, user.email, user.party.code, ip), outcome="failure",
           details={"reason": reason, "step": "second_factor"})


def complete_login(session: Session, user: User, method: str, ip: str) -> None:
    throttle.clear_account(session, user.email)
    user.last_login_at = utcnow()
    record(session, "auth.login", Actor(user.id, user.email, user.party.code, ip),
           target_type="user", target_id=user.id, details={"mfa": method})
