"""One-time recovery codes: shown once, stored only as Argon2 hashes (ASVS 6.5.2)."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError, VerifyMismatchError, InvalidHashError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cooperation.db import utcnow
from cooperation.security.models import RecoveryCode

COUNT = 10
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed by hand
# Codes carry 80 bits, so a lighter Argon2 cost than passwords is enough.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


def _new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(16))
    return "-".join(raw[i:i + 4] for i in range(0, 16, 4))


def _canonical(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def replace_codes(session: Session, user_id: int) -> list[str]:
    """Invalidate every existing code and return a fresh set (the only time they are visible)."""
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    codes = [_new_code() for _ in range(COUNT)]
    for code in codes:
        session.add(RecoveryCode(user_id=user_id, code_hash=_hasher.hash(_canonical(code))))
    return codes


def use_code(session: Session, user_id: int, code: str) -> bool:
    candidate = _canonical(code)
    if len(candidate) != 16:
        return False
    unused = session.scalars(select(RecoveryCode).where(
        RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))).all()
    for row in unused:
        try:
            _hasher.verify(row.code_hash, candidate)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            continue
        row.used_at = utcnow()
        return True
    return False


def remaining(session: Session, user_id: int) -> int:
    return len(session.scalars(select(RecoveryCode.id).where(
        RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))).all())
