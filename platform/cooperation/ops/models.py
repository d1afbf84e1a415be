"""Tables of the shared rate limiter (see ratelimit.py).

A bucket row is the lock: every hit upserts it first, which takes a row lock on PostgreSQL
(the write lock on SQLite), so concurrent hits on one bucket from any worker or instance are
counted one after the other and a limit of N allows N in total.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from cooperation.db import UTCDateTime, utcnow
from cooperation.extensions import db


class RateLimitBucket(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "rate_limit_bucket"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)  # "<limit>:user:<id>"
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RateLimitHit(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "rate_limit_hit"
    __table_args__ = (Index("ix_rate_limit_hit_key_created_at", "key", "created_at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(db.Integer, "sqlite"), primary_key=True)
    key: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
