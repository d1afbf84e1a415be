"""Sign-in throttling per account and per source address, shared by every worker (database).

A locked account is not disabled: the lock lifts when the window passes, so an attacker can
delay a user but not lock them out for good, and the per-address limit stops one source from
locking many accounts (ASVS 6.1.1, 6.3.1; NIST SP 800-63B-4 §3.2.2).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from cooperation.db import utcnow
from cooperation.security.models import LoginFailure


@dataclass(frozen=True)
class ThrottlePolicy:
    max_per_account: int
    max_per_address: int
    window: timedelta


def account_key(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()


def retry_after(session: Session, policy: ThrottlePolicy, email: str, ip: str,
                now: datetime | None = None) -> timedelta | None:
    """How long until another attempt is allowed, or None if allowed now."""
    now = now or utcnow()
    since = now - policy.window
    waits = []
    for column, value, limit in ((LoginFailure.account_key, account_key(email), policy.max_per_account),
                                 (LoginFailure.ip_address, ip, policy.max_per_address)):
        count, oldest = session.execute(
            select(func.count(), func.min(LoginFailure.created_at))
            .where(column == value, LoginFailure.created_at > since)
        ).one()
        if count >= limit and oldest is not None:
            oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=now.tzinfo)
            waits.append(oldest + policy.window - now)
    return max(waits) if waits else None


def record_failure(session: Session, email: str, ip: str, now: datetime | None = None) -> None:
    session.add(LoginFailure(account_key=account_key(email), ip_address=ip, created_at=now or utcnow()))


def clear_account(session: Session, email: str) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.account_key == account_key(email)))


def purge_older_than(session: Session, cutoff: datetime) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.created_at < cutoff))
