"""Test data builders (accounts with a known password and authenticator secret)."""

from __future__ import annotations

from sqlalchemy import select

from cooperation.accounts.models import User, UserStatus
from cooperation.db import utcnow
from cooperation.extensions import db
from cooperation.membership.models import Party
from cooperation.permissions import Role
from cooperation.security import passwords, totp

DEFAULT_PASSWORD = "correct horse battery staple"
_HASH_CACHE: dict[str, str] = {}


def party(code: str) -> Party:
    found = db.session.scalar(select(Party).where(Party.code == code))
    assert found is not None, code
    return found


def make_user(party_code: str, role: Role, email: str, *, status: UserStatus = UserStatus.ACTIVE,
              password: str = DEFAULT_PASSWORD, full_name: str | None = None) -> User:
    # Argon2 is deliberately slow; reuse one hash per password across tests.
    if password not in _HASH_CACHE:
        _HASH_CACHE[password] = passwords.hash_password(password)
    now = utcnow()
    user = User(email=email, full_name=full_name or email.split("@")[0].title(), party_id=party(party_code).id,
                role=role, status=status, password_hash=_HASH_CACHE[password], password_changed_at=now,
                totp_secret=totp.new_secret(), locale="en", created_at=now, status_changed_at=now)
    db.session.add(user)
    db.session.flush()
    return user
