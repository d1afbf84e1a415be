"""Audit entries and the chain head.

Each entry commits to the previous one (entry_hash = SHA-256 over its canonical content and
prev_hash). Appends are serialised through the single AuditHead row: the UPDATE that bumps
its sequence takes a row lock on PostgreSQL and the write lock on SQLite, so two concurrent
appends can never both extend the same tip (the chain cannot fork). prev_hash is also unique,
a second guard at the database level.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cooperation.db import UTCDateTime, utcnow
from cooperation.extensions import db

GENESIS_HASH = "0" * 64


class AuditHead(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)  # always 1
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    tip_hash: Mapped[str] = mapped_column(String(64), default=GENESIS_HASH)


class AuditEvent(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "audit_event"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    action: Mapped[str] = mapped_column(String(80), index=True)
    outcome: Mapped[str] = mapped_column(String(16), default="success")  # success | failure
    # Users are deactivated, never deleted, so this reference stays valid and hashed.
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id"), nullable=True, index=True
    )
    # Snapshots, so the entry stays readable (and its hash verifiable) whatever happens later.
    actor_label: Mapped[str] = mapped_column(String(254), default="")
    party_code: Mapped[str] = mapped_column(String(16), default="", index=True)
    ip_address: Mapped[str] = mapped_column(String(64), default="")
    target_type: Mapped[str] = mapped_column(String(40), default="")
    target_id: Mapped[str] = mapped_column(String(64), default="")
    details: Mapped[str] = mapped_column(Text, default="{}")  # canonical JSON
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
