"""Key directory, threads, their signed logs, epochs, messages and attachments.

Every blob column holds bytes the server cannot read (ciphertext, signatures, public keys,
signed records). The clear columns are what the server needs to order the log, enforce the
participant list and page messages: ids, sequence numbers, epochs, sizes and timestamps.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import (BigInteger, Boolean, ForeignKey, Index, Integer, LargeBinary, String,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column

from cooperation.db import UTCDateTime, utcnow
from cooperation.extensions import db

# Autoincrementing 64-bit ids (SQLite only autoincrements INTEGER PRIMARY KEY).
BigId = BigInteger().with_variant(Integer, "sqlite")


class NotifyMode(enum.StrEnum):
    EVENT = "event"    # one content-free mail when something new waits (then quiet until read)
    DIGEST = "digest"  # one content-free mail a day at most
    OFF = "off"


# -- key directory --------------------------------------------------------------------------

class IdentityKey(db.Model):  # type: ignore[name-defined,misc]
    """A user identity key (UIK, Ed25519 public). A change adds a row; the old one is kept
    with superseded_at set, so every change stays visible (never a silent overwrite)."""

    __tablename__ = "key_identity"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Device(db.Model):  # type: ignore[name-defined,misc]
    """A device's public keys and its certificate (signed by the UIK; opaque to the server)."""

    __tablename__ = "key_device"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(String(32), unique=True)  # 16 bytes, hex, client-chosen
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    dh_public: Mapped[bytes] = mapped_column(LargeBinary(32))
    sig_public: Mapped[bytes] = mapped_column(LargeBinary(32))
    certificate: Mapped[bytes] = mapped_column(LargeBinary(4096))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revocation: Mapped[bytes | None] = mapped_column(LargeBinary(4096), nullable=True)


class KeyGeneration(db.Model):  # type: ignore[name-defined,misc]
    """A per-user key generation (PUK_g public keys and its UIK-signed record)."""

    __tablename__ = "key_generation"
    __table_args__ = (UniqueConstraint("user_id", "generation"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    generation: Mapped[int] = mapped_column(Integer)
    dh_public: Mapped[bytes] = mapped_column(LargeBinary(32))
    sig_public: Mapped[bytes] = mapped_column(LargeBinary(32))
    record: Mapped[bytes] = mapped_column(LargeBinary(4096))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class KeyGenerationWrap(db.Model):  # type: ignore[name-defined,misc]
    """PUK_g's secret wrapped (HPKE) to one device: ciphertext only."""

    __tablename__ = "key_generation_wrap"
    __table_args__ = (UniqueConstraint("generation_id", "device_pk"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    generation_id: Mapped[int] = mapped_column(ForeignKey("key_generation.id", ondelete="CASCADE"))
    device_pk: Mapped[int] = mapped_column(ForeignKey("key_device.id", ondelete="CASCADE"), index=True)
    wrap: Mapped[bytes] = mapped_column(LargeBinary(1024))


class RecoveryBlob(db.Model):  # type: ignore[name-defined,misc]
    """Account secrets under the Recovery Key (kind rk) or a State recovery key (kind state)."""

    __tablename__ = "key_recovery_blob"
    __table_args__ = (UniqueConstraint("user_id", "kind", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    version: Mapped[int] = mapped_column(Integer)
    blob: Mapped[bytes] = mapped_column(LargeBinary(65536))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DeviceApproval(db.Model):  # type: ignore[name-defined,misc]
    """A new browser asking one of the user's devices for the account secrets (PROTOCOL.md §8a):
    its public keys while pending, then the secrets sealed to it (HPKE, opaque to the server)
    and the approving device's signature. Deleted when the new device registers, when refused,
    or once expired (`expires_at`), so no sealed secrets linger."""

    __tablename__ = "key_device_approval"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[str] = mapped_column(String(32), unique=True)  # = the new device's device_id
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(100))
    dh_public: Mapped[bytes] = mapped_column(LargeBinary(32))
    sig_public: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    approver_device_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary(65600), nullable=True)
    signature: Mapped[bytes | None] = mapped_column(LargeBinary(64), nullable=True)


# -- threads --------------------------------------------------------------------------------

class Thread(db.Model):  # type: ignore[name-defined,misc]
    """A thread: an opaque id, the encrypted metadata blob, and the head of its log."""

    __tablename__ = "thread"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # 16 random bytes, hex
    owner_party_id: Mapped[int] = mapped_column(ForeignKey("party.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                      nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    meta: Mapped[bytes | None] = mapped_column(LargeBinary(65536), nullable=True)
    head_seq: Mapped[int] = mapped_column(Integer, default=-1)  # -1: no event yet
    head_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    epoch: Mapped[int] = mapped_column(Integer, default=0)  # 0: no key yet; create opens epoch 1
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ThreadParty(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "thread_party"
    __table_args__ = (UniqueConstraint("thread_id", "party_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[str] = mapped_column(ForeignKey("thread.id", ondelete="CASCADE"))
    party_id: Mapped[int] = mapped_column(ForeignKey("party.id"), index=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ThreadMember(db.Model):  # type: ignore[name-defined,misc]
    """The server-side ACL (second layer behind the signed log) and the per-user read marker."""

    __tablename__ = "thread_member"
    __table_args__ = (UniqueConstraint("thread_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[str] = mapped_column(ForeignKey("thread.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    since_epoch: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: invited by create only
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    read_up_to: Mapped[int] = mapped_column(BigInteger, default=0)  # last message id read
    notified: Mapped[bool] = mapped_column(Boolean, default=False)  # mailed since last read


class ThreadEvent(db.Model):  # type: ignore[name-defined,misc]
    """One signed log event: opaque bytes plus the clear fields the ACL needs."""

    __tablename__ = "thread_event"
    __table_args__ = (UniqueConstraint("thread_id", "seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    thread_id: Mapped[str] = mapped_column(ForeignKey("thread.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                 nullable=True)
    device_id: Mapped[str] = mapped_column(String(32))
    epoch: Mapped[int | None] = mapped_column(Integer, nullable=True)  # set when the event opens one
    body: Mapped[bytes] = mapped_column(LargeBinary(65536))
    signature: Mapped[bytes] = mapped_column(LargeBinary(64))
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    event_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class EpochWrap(db.Model):  # type: ignore[name-defined,misc]
    """K_{t,e} wrapped (HPKE) to one member's PUK generation: ciphertext only."""

    __tablename__ = "thread_epoch_wrap"
    __table_args__ = (UniqueConstraint("thread_id", "epoch", "user_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    thread_id: Mapped[str] = mapped_column(ForeignKey("thread.id", ondelete="CASCADE"))
    epoch: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    generation: Mapped[int] = mapped_column(Integer)
    wrap: Mapped[bytes] = mapped_column(LargeBinary(1024))


class Message(db.Model):  # type: ignore[name-defined,misc]
    """A TEK1 envelope as posted (header | ct | sig), indexed by the clear header fields."""

    __tablename__ = "thread_message"
    __table_args__ = (
        UniqueConstraint("thread_id", "msg_id"),
        Index("ix_thread_message_thread_id_id", "thread_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    thread_id: Mapped[str] = mapped_column(ForeignKey("thread.id", ondelete="CASCADE"))
    msg_id: Mapped[str] = mapped_column(String(32))  # the client's idempotency key (header msg_id)
    epoch: Mapped[int] = mapped_column(Integer)
    sender_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                  nullable=True)
    device_id: Mapped[str] = mapped_column(String(32))
    envelope: Mapped[bytes] = mapped_column(LargeBinary(1 << 24))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Attachment(db.Model):  # type: ignore[name-defined,misc]
    """An encrypted attachment (TAF1 ciphertext) uploaded in parts; the server knows its
    thread, its ciphertext size and where it stores the parts, nothing else."""

    __tablename__ = "thread_attachment"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # 16 random bytes, hex
    thread_id: Mapped[str] = mapped_column(ForeignKey("thread.id", ondelete="CASCADE"), index=True)
    uploader_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"),
                                                    nullable=True)
    size: Mapped[int] = mapped_column(BigInteger)
    part_size: Mapped[int] = mapped_column(Integer)
    parts: Mapped[int] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(64))  # server-generated
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class AttachmentPart(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "thread_attachment_part"

    attachment_id: Mapped[str] = mapped_column(ForeignKey("thread_attachment.id", ondelete="CASCADE"),
                                               primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class NotificationPreference(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "thread_notification_pref"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True)
    mode: Mapped[str] = mapped_column(String(8), default=NotifyMode.DIGEST.value)
    last_digest_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
