"""WebAuthn security keys and passkeys (py_webauthn): registration and sign-in ceremonies."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cooperation.accounts.models import User
from cooperation.security.models import WebAuthnCredential


def has_credentials(session: Session, user: User) -> bool:
    return bool(session.scalar(select(func.count()).select_from(WebAuthnCredential)
                               .where(WebAuthnCredential.user_id == user.id)))


def credentials_of(session: Session, user: User) -> list[WebAuthnCredential]:
    return list(session.scalars(select(WebAuthnCredential).where(WebAuthnCredential.user_id == user.id)
                                .order_by(WebAuthnCredential.created_at)))
