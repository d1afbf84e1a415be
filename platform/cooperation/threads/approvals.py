"""Approving a new browser from an existing one (PROTOCOL.md §8a). Services never commit.

The server only relays: a pending request holds the new device's public keys; an approval adds
the account secrets sealed to that device (HPKE, opaque here) and the approving device's
signature, which is checked against that device's registered key so that a stray or forged
approval is refused with a clear error (the new device checks it again, for real). A request is
deleted when the new device registers with its id (complete), when refused or cancelled, and
once expired, so sealed secrets never linger. Everything is per user: another user, of this
State or another, gets NotFound for a request that is not theirs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from cooperation.accounts.models import User
from cooperation.audit.service import Actor, record
from cooperation.db import utcnow
from cooperation.threads import envelope as tek
from cooperation.threads.models import Device, DeviceApproval
from cooperation.threads.services import Conflict, Invalid, NotFound, current_identity, user_device
from cooperation_client.protocol import approval as protocol
from cooperation_client.protocol.errors import ProtocolError

TTL = timedelta(minutes=10)
MAX_OPEN = 3  # browsers of one user waiting at the same time
DEFAULT_RATE_LIMIT = "10/hour"  # new requests per user (app.config THREADS_APPROVAL_RATE_LIMIT)


def _aware(value: datetime, now: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=now.tzinfo)


def purge_expired(session: Session, user: User | None = None, now: datetime | None = None) -> int:
    """Delete expired requests (of one user, or of everyone: `cooperation purge-expired`)."""
    stmt = delete(DeviceApproval).where(DeviceApproval.expires_at <= (now or utcnow()))
    if user is not None:
        stmt = stmt.where(DeviceApproval.user_id == user.id)
    return session.execute(stmt).rowcount or 0


def open_requests(session: Session, user: User) -> list[DeviceApproval]:
    purge_expired(session, user)
    return list(session.scalars(select(DeviceApproval).where(DeviceApproval.user_id == user.id)
                                .order_by(DeviceApproval.created_at, DeviceApproval.id)))


def get_request(session: Session, user: User, request_id: str) -> DeviceApproval:
    row = session.scalar(select(DeviceApproval).where(DeviceApproval.request_id == request_id,
                                                      DeviceApproval.user_id == user.id))
    now = utcnow()
    if row is None or _aware(row.expires_at, now) <= now:
        raise NotFound(request_id)
    return row


def create_request(session: Session, user: User, *, request_id: str, label: str, dh_public: bytes,
                   sig_public: bytes, actor: Actor) -> DeviceApproval:
    identity = current_identity(session, user.id)
    active = session.scalar(select(func.count()).select_from(Device).where(
        Device.user_id == user.id, Device.revoked_at.is_(None)))
    if identity is None or not active:
        raise Invalid(_("None of your browsers has your keys, so none can approve this one. "
                        "Use your Recovery Key, or set up encryption if you never did."))
    taken = (session.scalar(select(Device.id).where(Device.device_id == request_id)) is not None
             or session.scalar(select(DeviceApproval.id).where(DeviceApproval.request_id == request_id)) is not None)
    if taken:
        raise Conflict(_("This request id is already in use."))
    if len(open_requests(session, user)) >= MAX_OPEN:
        raise Conflict(_("%(n)s browsers are already waiting for approval. Approve or refuse them on a browser "
                         "that has your keys, or wait ten minutes.", n=MAX_OPEN))
    now = utcnow()
    row = DeviceApproval(request_id=request_id, user_id=user.id, label=label, dh_public=dh_public,
                         sig_public=sig_public, created_at=now, expires_at=now + TTL)
    session.add(row)
    session.flush()
    record(session, "keys.device_approval_requested", actor, target_type="device_approval", target_id=request_id,
           details={"label": label})
    return row


def approve(session: Session, user: User, request_id: str, *, approver_device_id: str, sealed: bytes,
            signature: bytes, actor: Actor) -> DeviceApproval:
    row = get_request(session, user, request_id)
    if row.approved_at is not None:
        raise Conflict(_("This browser was already approved."))
    try:
        approver = user_device(session, user, approver_device_id)
    except NotFound:
        raise Invalid(_("The approving device is not one of your active devices.")) from None
    identity = current_identity(session, user.id)
    if identity is None:
        raise Invalid(_("Your account has no identity key."))
    try:
        protocol.verify_approval(approver.sig_public, signature, user_id=tek.user_ref(user.id),
                                 request_id=bytes.fromhex(request_id), uik_pub=identity.public_key,
                                 dh_pub=row.dh_public, sig_pub=row.sig_public,
                                 approver_device=bytes.fromhex(approver_device_id), sealed=sealed)
    except ProtocolError:
        raise Invalid(_("The approval's signature does not verify with the approving device's key.")) from None
    row.approved_at = utcnow()
    row.approver_device_id = approver_device_id
    row.sealed = sealed
    row.signature = signature
    record(session, "keys.device_approved", actor, target_type="device_approval", target_id=request_id,
           details={"approver_device": approver_device_id, "label": row.label})
    return row


def refuse(session: Session, user: User, request_id: str, actor: Actor) -> None:
    """Refused on an existing browser, or cancelled by the new one: either way it is gone."""
    row = get_request(session, user, request_id)
    was = "approved" if row.approved_at is not None else "pending"
    session.delete(row)
    session.flush()
    record(session, "keys.device_approval_refused", actor, target_type="device_approval", target_id=request_id,
           details={"status": was, "label": row.label})


def complete(session: Session, user: User, device_id: str, dh_public: bytes, sig_public: bytes,
             actor: Actor) -> None:
    """Called when a device registers: if its id answers a request, the request (and the sealed
    secrets) go. The keys must be the ones the approver sealed to."""
    row = session.scalar(select(DeviceApproval).where(DeviceApproval.request_id == device_id))
    if row is None:
        return
    if row.user_id != user.id:
        raise Conflict("This device id is already registered.")
    if row.dh_public != dh_public or row.sig_public != sig_public:
        raise Invalid(_("This device's keys are not the ones its approval request named."))
    status = "approved" if row.approved_at is not None else "pending"
    session.delete(row)
    session.flush()
    record(session, "keys.device_approval_completed", actor, target_type="device_approval", target_id=device_id,
           details={"status": status})
