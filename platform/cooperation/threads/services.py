"""Thread logic: the key directory, the participant ACL, the signed log with its head,
epochs, messages, read markers and attachment uploads. Services never commit.

Access rule: a thread and everything in it exists only for its current members. Anyone else
(another State's users, removed members, the Secretariat) gets NotFound, which views turn
into 404, so nobody learns whether a thread id exists.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, BinaryIO

from sqlalchemy import and_, bindparam, case, delete, exists, func, insert, select, true, tuple_, update
from sqlalchemy.orm import Session

from cooperation import permissions as p
from cooperation.accounts.models import User, UserStatus
from cooperation.audit.service import Actor, record
from cooperation.db import BINARY_RESULTS, utcnow
from cooperation.membership.models import Party, PartyStatus
from cooperation.threads import envelope as tek
from cooperation.threads.models import (Attachment, AttachmentPart, Device, EpochWrap, IdentityKey, KeyGeneration,
                                        KeyGenerationWrap, Message, NotificationPreference, NotifyMode,
                                        RecoveryBlob, Thread, ThreadEvent, ThreadMember, ThreadParty)
from cooperation.threads.storage import AttachmentStorage
from cooperation_client.protocol.events import event_hash

GENESIS = bytes(32)
EVENT_SIG_LABEL = "event"  # signed as "TEK1/event-sig" | SHA-256(event bytes), as the protocol core does
EPOCH_EVENTS = frozenset({"create", "add_state", "remove_state", "add_user", "remove_user", "rotate"})
EVENT_TYPES = EPOCH_EVENTS | {"set_policy", "rename"}
MAX_PARTIES = 200
MAX_UNREAD = 999  # unread counts stop here: never count a whole thread
MAX_PAGE = 200
MIN_PART = 64 * 1024
MAX_PART = 64 * 1024 * 1024
DEFAULT_MAX_ATTACHMENT = 4 * 1024 ** 3


class NotFound(LookupError):
    """Absent, or not for this user: the same answer either way."""


class Invalid(ValueError):
    """The request breaks a rule; the message says which (HTTP 400)."""


@dataclass
class Conflict(Exception):
    """Someone else changed the thread first (HTTP 409); carries what the client needs."""

    message: str
    details: dict[str, Any] = field(default_factory=dict)


def new_id() -> str:
    return secrets.token_hex(16)


def log_hash(body: bytes) -> bytes:
    """The hash that chains the log: the protocol's event hash, so the head the server reports
    is the `prev` the next signed event must carry."""
    return event_hash(body)


def event_signature_input(body: bytes) -> bytes:
    return b"TEK1/event-sig" + hashlib.sha256(body).digest()


def _verify_ed25519(public: bytes, signature: bytes, message: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def is_thread_admin(user: User) -> bool:
    """The protocol's "administrator" of a party (PROTOCOL.md §6): a State's focal point, or a
    Registry editor for the Registry. Clients read it from the key directory."""
    return user.role in (p.Role.STATE_FOCAL_POINT, p.Role.REGISTRY_EDITOR)


def may_participate(user: User) -> bool:
    return user.is_active and p.THREADS_PARTICIPATE.name in p.permissions_for(user.role, {})


# == key directory ===========================================================================

def current_identity(session: Session, user_id: int) -> IdentityKey | None:
    return session.scalar(select(IdentityKey).where(IdentityKey.user_id == user_id,
                                                    IdentityKey.superseded_at.is_(None)))


def publish_identity(session: Session, user: User, public_key: bytes, actor: Actor) -> tuple[IdentityKey, bool]:
    """Publish the UIK. Re-publishing the same key changes nothing; a different key supersedes
    the old one, which stays on record (peers see the change; audited)."""
    current = current_identity(session, user.id)
    if current is not None and current.public_key == public_key:
        return current, False
    now = utcnow()
    if current is not None:
        current.superseded_at = now
    identity = IdentityKey(user_id=user.id, public_key=public_key, created_at=now)
    session.add(identity)
    session.flush()
    record(session, "keys.identity_changed" if current else "keys.identity_published", actor,
           target_type="user", target_id=user.id, details={"identity_record": identity.id})
    return identity, True


_USER_DEVICE = select(Device).where(Device.device_id == bindparam("device_id"), Device.user_id == bindparam("user_id"))


def user_device(session: Session, user: User, device_id: str, *, active: bool = True) -> Device:
    device = session.scalar(_USER_DEVICE, {"device_id": device_id, "user_id": user.id})
    if device is None or (active and device.revoked_at is not None):
        raise NotFound(device_id)
    return device


def add_device(session: Session, user: User, *, device_id: str, label: str, dh_public: bytes,
               sig_public: bytes, certificate: bytes, actor: Actor) -> Device:
    if current_identity(session, user.id) is None:
        raise Invalid("Publish your identity key before adding a device.")
    from cooperation.threads import approvals  # a device approved by another one ends its request

    approvals.complete(session, user, device_id, dh_public, sig_public, actor)
    if session.scalar(select(Device.id).where(Device.device_id == device_id)) is not None:
        raise Conflict("This device id is already registered.")
    device = Device(device_id=device_id, user_id=user.id, label=label, dh_public=dh_public,
                    sig_public=sig_public, certificate=certificate, created_at=utcnow())
    session.add(device)
    session.flush()
    record(session, "keys.device_added", actor, target_type="device", target_id=device.device_id)
    return device


def revoke_device(session: Session, user: User, device_id: str, revocation: bytes, actor: Actor) -> Device:
    device = user_device(session, user, device_id, active=False)
    if device.revoked_at is not None:
        raise Conflict("This device is already revoked.")
    device.revoked_at = utcnow()
    device.revocation = revocation
    record(session, "keys.device_revoked", actor, target_type="device", target_id=device.device_id)
    return device


def current_generation(session: Session, user_id: int) -> KeyGeneration | None:
    return session.scalar(select(KeyGeneration).where(KeyGeneration.user_id == user_id)
                          .order_by(KeyGeneration.generation.desc()).limit(1))


def add_generation(session: Session, user: User, *, generation: int, dh_public: bytes, sig_public: bytes,
                   record_bytes: bytes, wraps: list[tuple[str, bytes]], actor: Actor) -> KeyGeneration:
    latest = current_generation(session, user.id)
    expected = 1 if latest is None else latest.generation + 1
    if generation != expected:
        raise Conflict(f"The next key generation is {expected}.", {"expected_generation": expected})
    devices = {}
    for device_id, _ in wraps:
        if device_id in devices:
            raise Invalid("Each device may be given one wrap per generation.")
        try:
            devices[device_id] = user_device(session, user, device_id)
        except NotFound:
            raise Invalid(f"Device {device_id} is not one of your active devices.") from None
    gen = KeyGeneration(user_id=user.id, generation=generation, dh_public=dh_public, sig_public=sig_public,
                        record=record_bytes, created_at=utcnow())
    session.add(gen)
    session.flush()
    for device_id, wrap in wraps:
        session.add(KeyGenerationWrap(generation_id=gen.id, device_pk=devices[device_id].id, wrap=wrap))
    record(session, "keys.generation_added", actor, target_type="user", target_id=user.id,
           details={"generation": generation, "devices": sorted(devices)})
    return gen


def store_recovery(session: Session, user: User, kind: str, blob: bytes) -> RecoveryBlob:
    latest = session.scalar(select(func.max(RecoveryBlob.version)).where(RecoveryBlob.user_id == user.id,
                                                                         RecoveryBlob.kind == kind))
    row = RecoveryBlob(user_id=user.id, kind=kind, version=(latest or 0) + 1, blob=blob, created_at=utcnow())
    session.add(row)
    session.flush()
    return row


def _public_record(session: Session, user: User) -> dict[str, Any]:
    identities = session.scalars(select(IdentityKey).where(IdentityKey.user_id == user.id)
                                 .order_by(IdentityKey.id)).all()
    devices = session.scalars(select(Device).where(Device.user_id == user.id).order_by(Device.id)).all()
    generations = session.scalars(select(KeyGeneration).where(KeyGeneration.user_id == user.id)
                                  .order_by(KeyGeneration.generation)).all()
    return {"user": user, "party_code": user.party.code, "identities": identities, "devices": devices,
            "generations": generations}


def own_keys(session: Session, user: User) -> dict[str, Any]:
    data = _public_record(session, user)
    data["wraps"] = session.execute(
        select(KeyGeneration.generation, Device.device_id, KeyGenerationWrap.wrap)
        .join(KeyGenerationWrap, KeyGenerationWrap.generation_id == KeyGeneration.id)
        .join(Device, Device.id == KeyGenerationWrap.device_pk)
        .where(KeyGeneration.user_id == user.id).order_by(KeyGeneration.generation, Device.device_id)).all()
    data["recovery"] = session.scalars(select(RecoveryBlob).where(RecoveryBlob.user_id == user.id)
                                       .order_by(RecoveryBlob.kind, RecoveryBlob.version.desc())).all()
    return data


def shares_thread(session: Session, a: int, b: int) -> bool:
    """`b` is or was a member of a thread `a` belongs to now: a's client needs the keys of
    everyone its thread logs name, former members included, to verify those logs."""
    mine = select(ThreadMember.thread_id).where(ThreadMember.user_id == a, ThreadMember.removed_at.is_(None))
    found = session.scalar(select(ThreadMember.id).where(ThreadMember.user_id == b,
                                                         ThreadMember.thread_id.in_(mine)).limit(1))
    return found is not None


def public_keys(session: Session, viewer: User, user_id: int) -> dict[str, Any]:
    """Another user's public keys: for colleagues of the same party, for users one shares a
    thread with, and for the organisations' staff, who work with every State. A State's user
    never looks up another State's users outside a shared thread (to add them: the roster)."""
    target = session.get(User, user_id)
    if target is None:
        raise NotFound(user_id)
    allowed = (target.id == viewer.id or target.party_id == viewer.party_id or not viewer.party.is_state
               or shares_thread(session, viewer.id, target.id))
    if not allowed:
        raise NotFound(user_id)
    return _public_record(session, target)


# == threads and participants ================================================================

def create_thread(session: Session, user: User, party_codes: list[str], actor: Actor) -> Thread:
    """A new thread owned by the creator's party, with the listed parties as participants.
    Only the creator is a member until the signed `create` event names the others."""
    codes = list(dict.fromkeys([user.party.code, *party_codes]))
    if len(codes) > MAX_PARTIES:
        raise Invalid(f"A thread can have at most {MAX_PARTIES} parties.")
    parties = session.scalars(select(Party).where(Party.code.in_(codes))).all()
    by_code = {party.code: party for party in parties}
    unknown = [code for code in codes if code not in by_code or by_code[code].status != PartyStatus.ACTIVE]
    if unknown:
        raise Invalid(f"Unknown or inactive parties: {', '.join(sorted(unknown))}.")
    now = utcnow()
    # Epoch 0 means "no key yet": the create event opens epoch 1 (PROTOCOL.md §6).
    thread = Thread(id=new_id(), owner_party_id=user.party_id, created_by_id=user.id, created_at=now,
                    head_seq=-1, head_hash=GENESIS, epoch=0, last_activity_at=now)
    session.add(thread)
    session.flush()
    for code in codes:
        session.add(ThreadParty(thread_id=thread.id, party_id=by_code[code].id, added_at=now))
    session.add(ThreadMember(thread_id=thread.id, user_id=user.id, read_up_to=0, notified=False))
    record(session, "threads.created", actor, target_type="thread", target_id=thread.id,
           details={"parties": codes})
    return thread


_MEMBERSHIP = (select(Thread, ThreadMember).join(ThreadMember, ThreadMember.thread_id == Thread.id)
               .where(Thread.id == bindparam("thread_id"), ThreadMember.user_id == bindparam("user_id"),
                      ThreadMember.removed_at.is_(None)))


def membership(session: Session, user: User, thread_id: str) -> tuple[Thread, ThreadMember]:
    row = session.execute(_MEMBERSHIP, {"thread_id": thread_id, "user_id": user.id}).first()
    if row is None or not may_participate(user):
        raise NotFound(thread_id)
    return row[0], row[1]


def thread_parties(session: Session, thread: Thread) -> list[Party]:
    return list(session.scalars(select(Party).join(ThreadParty, ThreadParty.party_id == Party.id)
                                .where(ThreadParty.thread_id == thread.id, ThreadParty.removed_at.is_(None))
                                .order_by(Party.code)))


def thread_members(session: Session, thread: Thread) -> list[ThreadMember]:
    return list(session.scalars(select(ThreadMember).where(ThreadMember.thread_id == thread.id,
                                                           ThreadMember.removed_at.is_(None))
                                .order_by(ThreadMember.user_id)))


def unread_count(session: Session, member: ThreadMember) -> int:
    """Messages after the read marker, counted up to MAX_UNREAD + 1 along the (thread, id) index."""
    newer = (select(Message.id).where(Message.thread_id == member.thread_id, Message.id > member.read_up_to)
             .limit(MAX_UNREAD + 1).subquery())
    return int(session.scalar(select(func.count()).select_from(newer)) or 0)


@dataclass(frozen=True)
class ListedThread:
    thread: Thread
    member: ThreadMember
    latest: int | None  # id of the newest message, if any
    unread: int         # up to MAX_UNREAD + 1
    parties: list[str]  # codes of the participating parties


def list_threads(session: Session, user: User, limit: int = 100) -> list[ListedThread]:
    """The user's threads, most recent activity first, with unread counts and parties: two
    statements whatever the number of threads."""
    latest = (select(func.max(Message.id)).where(Message.thread_id == Thread.id).correlate(Thread)
              .scalar_subquery())
    after_marker = and_(Message.thread_id == Thread.id, Message.id > ThreadMember.read_up_to)
    # Counting stops at MAX_UNREAD + 1 like unread_count: past it, one index probe says "more".
    beyond_cap = exists(select(Message.id).where(after_marker).order_by(Message.id).offset(MAX_UNREAD).limit(1)
                        .correlate(Thread, ThreadMember))
    counted = select(func.count()).where(after_marker).correlate(Thread, ThreadMember).scalar_subquery()
    unread = case((beyond_cap, MAX_UNREAD + 1), else_=counted)
    rows = session.execute(
        select(Thread, ThreadMember, latest.label("latest"), unread.label("unread"))
        .join(ThreadMember, ThreadMember.thread_id == Thread.id)
        .where(ThreadMember.user_id == user.id, ThreadMember.removed_at.is_(None))
        .order_by(Thread.created_at.desc()).limit(limit)).all()
    parties: dict[str, list[str]] = {row[0].id: [] for row in rows}
    if parties:
        for thread_id, code in session.execute(
                select(ThreadParty.thread_id, Party.code).join(Party, Party.id == ThreadParty.party_id)
                .where(ThreadParty.thread_id.in_(parties), ThreadParty.removed_at.is_(None))
                .order_by(Party.code)):
            parties[thread_id].append(code)
    out = [ListedThread(row[0], row[1], row[2], int(row[3] or 0), parties[row[0].id]) for row in rows]
    out.sort(key=lambda item: (item.latest or 0, item.thread.created_at), reverse=True)
    return out


def roster(session: Session, thread: Thread) -> list[tuple[Party, list[tuple[User, KeyGeneration]]]]:
    """For each participating party, its users who may take part and have published a key
    generation: whom the members can wrap epoch keys to."""
    return [(party, _party_roster(session, party)) for party in thread_parties(session, thread)]


def candidate_roster(session: Session, user: User, thread: Thread,
                     code: str) -> list[tuple[Party, list[tuple[User, KeyGeneration]]]]:
    """The roster of a party that does not take part yet, for the owner party's members, who
    alone may add parties (PROTOCOL.md §6, add_state): their clients must wrap the new epoch
    key to its users before the party is added. Anyone else gets NotFound."""
    party = session.scalar(select(Party).where(Party.code == code))
    if (party is None or party.status != PartyStatus.ACTIVE or not _owner_side(user, thread)
            or party.id in {p.id for p in thread_parties(session, thread)}):
        raise NotFound(code)
    return [(party, _party_roster(session, party))]


def _party_roster(session: Session, party: Party) -> list[tuple[User, KeyGeneration]]:
    users = session.scalars(select(User).where(User.party_id == party.id, User.status == UserStatus.ACTIVE)
                            .order_by(User.id)).all()
    entries = []
    for candidate in users:
        if not may_participate(candidate):
            continue
        gen = current_generation(session, candidate.id)
        if gen is not None:
            entries.append((candidate, gen))
    return entries


@dataclass(frozen=True)
class WrapIn:
    user_id: int
    generation: int
    wrap: bytes


@dataclass(frozen=True)
class EventIn:
    seq: int
    prev_hash: bytes
    kind: str
    device_id: str
    body: bytes
    signature: bytes
    party: str | None = None
    users: tuple[int, ...] = ()
    meta: bytes | None = None
    epoch: int | None = None
    wraps: tuple[WrapIn, ...] = ()


def head(thread: Thread) -> dict[str, Any]:
    return {"seq": thread.head_seq, "hash": thread.head_hash, "epoch": thread.epoch}


def append_event(session: Session, user: User, thread: Thread, member: ThreadMember, event: EventIn,
                 actor: Actor) -> ThreadEvent:
    """Append one signed event at head + 1 (optimistic: a stale head is a Conflict), apply its
    effect on the participant ACL and store its epoch record."""
    if event.kind not in EVENT_TYPES:
        raise Invalid(f"Unknown event type {event.kind!r}.")
    if (event.kind == "create") != (event.seq == 0):
        raise Invalid("The create event is the first event of a thread, and only the first.")
    if thread.head_seq + 1 != event.seq or thread.head_hash != event.prev_hash:
        raise Conflict("The thread has changed: fetch the new head and try again.", head(thread))
    device = _signing_device(session, user, event.device_id)
    if not _verify_ed25519(device.sig_public, event.signature, event_signature_input(event.body)):
        raise Invalid("The event signature does not verify with the device's signing key.")
    if event.meta is not None and event.kind not in {"create", "rename"}:
        raise Invalid("Only create and rename events carry the encrypted metadata.")
    # Compare-and-set on the head: of two concurrent appends at the same seq, one wins.
    won = session.execute(update(Thread).where(Thread.id == thread.id, Thread.head_seq == event.seq - 1)
                          .values(head_seq=event.seq, head_hash=log_hash(event.body),
                                  last_activity_at=utcnow())).rowcount
    if won != 1:
        raise Conflict("The thread has changed: fetch the new head and try again.")
    session.refresh(thread)
    affected = _apply_membership(session, user, thread, event)
    if event.kind in EPOCH_EVENTS:
        _store_epoch(session, thread, event)
    elif event.epoch is not None or event.wraps:
        raise Invalid(f"A {event.kind} event does not open an epoch.")
    if event.meta is not None:
        thread.meta = event.meta
    row = ThreadEvent(thread_id=thread.id, seq=event.seq, kind=event.kind, actor_id=user.id,
                      device_id=device.device_id, epoch=event.epoch if event.kind in EPOCH_EVENTS else None,
                      body=event.body, signature=event.signature, prev_hash=event.prev_hash,
                      event_hash=thread.head_hash, created_at=utcnow())
    session.add(row)
    session.flush()
    if event.kind in EPOCH_EVENTS - {"rotate"}:
        record(session, f"threads.{event.kind}", actor, target_type="thread", target_id=thread.id,
               details={"seq": event.seq, "epoch": event.epoch, **affected})
    return row


def _signing_device(session: Session, user: User, device_id: str) -> Device:
    try:
        return user_device(session, user, device_id)
    except NotFound:
        raise Invalid("The device is not one of your active devices.") from None


def _owner_side(user: User, thread: Thread) -> bool:
    return user.party_id == thread.owner_party_id


def _apply_membership(session: Session, actor_user: User, thread: Thread, event: EventIn) -> dict[str, Any]:
    """The server-side ACL follows the log: who may change what, and the member rows."""
    now = utcnow()
    parties = {tp.party_id: tp for tp in session.scalars(select(ThreadParty).where(ThreadParty.thread_id == thread.id))}
    active_party_ids = {pid for pid, tp in parties.items() if tp.removed_at is None}
    kind = event.kind
    if kind in {"add_state", "remove_state"}:
        if not event.party:
            raise Invalid("This event names a party.")
        if not _owner_side(actor_user, thread):
            raise Invalid("Only the owning party's members add or remove parties.")
        party = session.scalar(select(Party).where(Party.code == event.party))
        if party is None or (kind == "add_state" and party.status != PartyStatus.ACTIVE):
            raise Invalid(f"Unknown or inactive party {event.party}.")
        if kind == "add_state":
            if party.id in active_party_ids:
                raise Invalid(f"{party.code} already takes part.")
            if party.id in parties:
                parties[party.id].removed_at = None
            else:
                session.add(ThreadParty(thread_id=thread.id, party_id=party.id, added_at=now))
            active_party_ids.add(party.id)
        else:
            if party.id not in active_party_ids or party.id == thread.owner_party_id:
                raise Invalid("This party cannot be removed from the thread.")
            parties[party.id].removed_at = now
            active_party_ids.discard(party.id)
            session.execute(update(ThreadMember).where(
                ThreadMember.thread_id == thread.id, ThreadMember.removed_at.is_(None),
                ThreadMember.user_id.in_(select(User.id).where(User.party_id == party.id))).values(removed_at=now))
    elif event.party:
        raise Invalid(f"A {kind} event names no party.")
    if kind in {"create", "add_state", "add_user", "remove_user"}:
        if kind != "add_state" and not event.users:
            raise Invalid("This event names the users it concerns.")
        users = session.scalars(select(User).where(User.id.in_(event.users))).all()
        if len(users) != len(set(event.users)):
            raise Invalid("Some of the named users do not exist.")
        for target in users:
            if kind == "remove_user":
                if target.id != actor_user.id and not _owner_side(actor_user, thread) \
                        and target.party_id != actor_user.party_id:
                    raise Invalid("You may remove yourself, your own party's users, or anyone if your party "
                                  "owns the thread.")
                continue
            if target.party_id not in active_party_ids:
                raise Invalid("A user can only be added if their party takes part in the thread.")
            if kind == "add_state" and target.party.code != event.party:
                raise Invalid("An add_state event adds users of that party only.")
            if kind == "add_user" and not _owner_side(actor_user, thread) and target.party_id != actor_user.party_id:
                raise Invalid("You may add users of your own party, or anyone if your party owns the thread.")
            if not may_participate(target) or current_generation(session, target.id) is None:
                raise Invalid("A user can only be added once active and with published keys.")
        if kind == "create" and actor_user.id not in event.users:
            raise Invalid("The creator is a member of the thread.")
        members = {m.user_id: m for m in session.scalars(select(ThreadMember).where(ThreadMember.thread_id == thread.id))}
        for target in users:
            row = members.get(target.id)
            if kind == "remove_user":
                if row is None or row.removed_at is not None:
                    raise Invalid("A user to remove is not a member.")
                row.removed_at = now
            elif row is None:
                session.add(ThreadMember(thread_id=thread.id, user_id=target.id, since_epoch=event.epoch,
                                         read_up_to=0, notified=False))
            elif row.removed_at is not None or row.since_epoch is None:
                row.removed_at, row.since_epoch = None, event.epoch
            else:
                raise Invalid("A user to add is already a member.")
    elif event.users:
        raise Invalid(f"A {kind} event names no users.")
    session.flush()
    return {"party": event.party, "users": sorted(set(event.users))} if (event.party or event.users) else {}


def _store_epoch(session: Session, thread: Thread, event: EventIn) -> None:
    """The event opens epoch current + 1; its wraps must cover exactly the members after it."""
    expected = thread.epoch + 1
    if event.epoch != expected:
        raise Invalid(f"This event opens epoch {expected}.")
    members = {m.user_id for m in thread_members(session, thread)}
    wrapped = [w.user_id for w in event.wraps]
    if len(wrapped) != len(set(wrapped)) or set(wrapped) != members:
        raise Invalid("The epoch's wraps must match the thread's members exactly, one each.")
    for wrap in event.wraps:
        gen = current_generation(session, wrap.user_id)
        if gen is None or gen.generation != wrap.generation:
            raise Invalid(f"User {wrap.user_id}'s current key generation is not {wrap.generation}.")
        session.add(EpochWrap(thread_id=thread.id, epoch=expected, user_id=wrap.user_id,
                              generation=wrap.generation, wrap=wrap.wrap))
    thread.epoch = expected


def events(session: Session, thread: Thread, after: int, limit: int) -> list[ThreadEvent]:
    return list(session.scalars(select(ThreadEvent).where(ThreadEvent.thread_id == thread.id, ThreadEvent.seq > after)
                                .order_by(ThreadEvent.seq).limit(limit)))


def epoch_record(session: Session, thread: Thread, epoch: int) -> list[EpochWrap]:
    wraps = list(session.scalars(select(EpochWrap).where(EpochWrap.thread_id == thread.id, EpochWrap.epoch == epoch)
                                 .order_by(EpochWrap.user_id)))
    if not wraps:
        raise NotFound(epoch)
    return wraps


# == messages ===============================================================================

def find_message(session: Session, thread_id: str, msg_id: str) -> Message | None:
    return session.scalar(select(Message).where(Message.thread_id == thread_id, Message.msg_id == msg_id))


@dataclass(frozen=True)
class CheckedPost:
    """An envelope that passed every check against what the database said at check time."""
    thread_id: str
    msg_id: str
    epoch: int
    sender_id: int
    device_id: str
    data: bytes


def parse_envelope(data: bytes) -> tek.Envelope:
    try:
        return tek.parse(data)
    except tek.EnvelopeError as exc:
        raise Invalid(f"Not a valid encrypted envelope: {exc}.") from None


# Who may post, and the device the envelope names, in one statement: the thread and the
# device come back only to an active member, so an outsider learns nothing.
_POSTER = (select(Thread, Device).join(ThreadMember, ThreadMember.thread_id == Thread.id)
           .outerjoin(Device, and_(Device.device_id == bindparam("device_id"), Device.user_id == bindparam("user_id")))
           .where(Thread.id == bindparam("thread_id"), ThreadMember.user_id == bindparam("user_id"),
                  ThreadMember.removed_at.is_(None)))


def poster(session: Session, user: User, thread_id: str, device_id: str) -> tuple[Thread, Device | None]:
    """The thread, if `user` is an active member, with their device `device_id` if it exists."""
    row = session.execute(_POSTER, {"thread_id": thread_id, "user_id": user.id, "device_id": device_id}).first()
    if row is None or not may_participate(user):
        raise NotFound(thread_id)
    return row[0], row[1]


def check_envelope(user: User, thread: Thread, device: Device | None, env: tek.Envelope, data: bytes) -> CheckedPost:
    """The envelope's binding to this thread, sender and epoch, and its device signature,
    against what a lookup said (no statement of its own)."""
    h = env.header
    if h.thread_id.hex() != thread.id:
        raise Invalid("The envelope belongs to another thread.")
    if h.sender_user != tek.user_ref(user.id):
        raise Invalid("The envelope's sender is not you.")
    if thread.epoch < 1:
        raise Invalid("The thread has no epoch yet: append the create event first.")
    if h.epoch != thread.epoch:
        raise Conflict("The thread moved to a new epoch: fetch it and encrypt again.", head(thread))
    if device is None or device.revoked_at is not None or device.device_id != h.sender_device.hex():
        raise Invalid("The device is not one of your active devices.")
    if not tek.verify_signature(env, device.sig_public):
        raise Invalid("The envelope signature does not verify with the device's signing key.")
    return CheckedPost(thread.id, h.msg_id.hex(), h.epoch, user.id, device.device_id, data)


def check_post(session: Session, user: User, thread: Thread, data: bytes) -> CheckedPost:
    """The envelope's structure and check_envelope, for a member already looked up."""
    env = parse_envelope(data)
    device = session.scalar(_USER_DEVICE, {"device_id": env.header.sender_device.hex(), "user_id": user.id})
    return check_envelope(user, thread, device, env, data)


# What the check read, asked again inside the INSERT itself: the thread still at this epoch,
# the sender still a member, the device still active. Built once: statement construction is
# a large share of a post's CPU time.
_STORE_MESSAGE = insert(Message.__table__).from_select(
    ["thread_id", "msg_id", "epoch", "sender_id", "device_id", "envelope", "created_at"],
    select(*(bindparam(f"new_{name}", type_=Message.__table__.c[name].type)
             for name in ("thread_id", "msg_id", "epoch", "sender_id", "device_id", "envelope", "created_at")))
    .where(exists().where(Thread.id == bindparam("new_thread_id"), Thread.epoch == bindparam("new_epoch")),
           exists().where(ThreadMember.thread_id == bindparam("new_thread_id"),
                          ThreadMember.user_id == bindparam("new_sender_id"), ThreadMember.removed_at.is_(None)),
           exists().where(Device.device_id == bindparam("new_device_id"), Device.user_id == bindparam("new_sender_id"),
                          Device.revoked_at.is_(None)))
).returning(Message.id, Message.thread_id, Message.msg_id, Message.epoch, Message.sender_id, Message.device_id,
            Message.created_at, Message.envelope)

# Members waiting for a per-event mail: mode "event", not yet mailed since their last read.
# Marked as mailed by the same write that stores the message (the mail goes after the commit).
_MEMBERS = ThreadMember.__table__.c


def _mark_notified(thread_id: Any, sender_id: Any) -> Any:
    return (update(ThreadMember.__table__)
            .where(_MEMBERS.thread_id == thread_id, _MEMBERS.removed_at.is_(None),
                   _MEMBERS.user_id != sender_id, _MEMBERS.notified.is_(False),
                   _MEMBERS.user_id.in_(select(NotificationPreference.user_id)
                                        .where(NotificationPreference.mode == NotifyMode.EVENT.value)),
                   _MEMBERS.user_id.in_(select(User.id).where(User.status == UserStatus.ACTIVE)))
            .values(notified=true()).returning(_MEMBERS.user_id))


_MARK_NOTIFIED = _mark_notified(bindparam("in_thread"), bindparam("sender"))
# PostgreSQL: both writes as one statement (data-modifying CTEs), so that it can run in
# autocommit, atomic by itself: one round trip instead of BEGIN, INSERT, UPDATE and COMMIT.
# The UPDATE reads the thread and the sender from the INSERT's output: nothing stored, no mark.
_STORED = _STORE_MESSAGE.cte("stored")
_MARKED = _mark_notified(select(_STORED.c.thread_id).scalar_subquery(),
                         select(_STORED.c.sender_id).scalar_subquery()).cte("marked")
_STORE_AND_MARK = select(_STORED, select(func.array_agg(_MARKED.c.user_id)).scalar_subquery().label("notify"))


@dataclass(frozen=True)
class StoredPost:
    message: Any  # a row with Message's attribute names
    notify: tuple[int, ...]  # members to mail that something new is waiting


def store_post(session: Session, checked: CheckedPost) -> StoredPost | None:
    """Store a checked envelope with a statement that re-checks what may have changed since
    the check (a rotation, a removal, a revocation), and mark the members to notify. None
    when something changed; a fresh check then tells what. A msg_id already used in the
    thread fails on the unique constraint (IntegrityError): the caller looks the first copy up
    with `resolve_retry`, so the happy path costs no lookup for a duplicate that almost never is.

    On PostgreSQL this is one statement, fit for cooperation.lookups.write_apart; on SQLite two,
    inside the write lock, in the caller's transaction."""
    # new_*: a parameter named like a column of thread_member would be taken by SQLAlchemy for a
    # value to SET in the UPDATE of the same statement.
    params = {"new_thread_id": checked.thread_id, "new_msg_id": checked.msg_id, "new_epoch": checked.epoch,
              "new_sender_id": checked.sender_id, "new_device_id": checked.device_id, "new_envelope": checked.data,
              "new_created_at": utcnow()}
    if session.get_bind().dialect.name == "postgresql":
        row = session.execute(_STORE_AND_MARK, params).first()
        return None if row is None else StoredPost(row, tuple(row.notify or ()))
    row = session.execute(_STORE_MESSAGE, params).first()
    if row is None:
        return None
    marked = session.scalars(_MARK_NOTIFIED, {"in_thread": checked.thread_id, "sender": checked.sender_id})
    return StoredPost(row, tuple(marked))


def post_message(session: Session, user: User, thread: Thread, data: bytes) -> Any:
    """Check and store in the caller's transaction (the demo seed, tests and tools)."""
    stored = store_post(session, check_post(session, user, thread, data))
    if stored is None:
        raise Conflict("The thread changed while the message was stored: fetch it and try again.", head(thread))
    return stored.message


def mail_recipients(session: Session, user_ids: tuple[int, ...]) -> list[tuple[str, str]]:
    """(address, language) of these users, for mails each in its recipient's language."""
    return [(row.email, row.locale) for row in
            session.execute(select(User.email, User.locale).where(User.id.in_(user_ids)).order_by(User.id))]


def resolve_retry(session: Session, user: User, thread_id: str, data: bytes) -> Message:
    """After a duplicate msg_id: the first copy if this is a retry of the same bytes by the same
    sender, else a Conflict."""
    existing = find_message(session, thread_id, data[tek.MSG_ID_SLICE].hex()) if len(data) > 74 else None
    if existing is None or existing.envelope != data or existing.sender_id != user.id:
        raise Conflict("Another message already uses this msg_id.")
    return existing


MESSAGE_COLUMNS = (Message.id, Message.msg_id, Message.epoch, Message.sender_id, Message.device_id,
                   Message.created_at, Message.envelope)


# Built once with bind parameters: building a statement costs more than running it here.
# "thread_id between t and t", ordered by (thread_id, id): only the (thread_id, id) index gives
# that order. With "thread_id = t ORDER BY id", PostgreSQL may walk the primary key backwards
# for a thread it believes holds most rows, and read through every newer message of every other
# thread first (measured: 2.9 ms instead of 0.08 for the latest page of a 100,000-message thread
# behind 6,300 newer messages elsewhere).
_IN_THREAD = and_(Message.thread_id >= bindparam("thread_id"), Message.thread_id <= bindparam("thread_id"))
_NEWEST_FIRST = (Message.thread_id.desc(), Message.id.desc())
_LATEST = (select(*MESSAGE_COLUMNS).where(_IN_THREAD).order_by(*_NEWEST_FIRST).limit(bindparam("limit"))
           .execution_options(**{BINARY_RESULTS: True}))
# Paging must start the index walk at the page's end, not filter a walk from the thread's newest
# message. PostgreSQL bounds the walk by the row comparison (thread_id, id) < (t, before); SQLite
# cannot, but has no such planner trap either and walks (thread_id = t, id < before) directly.
_LATEST_BEFORE = {
    "postgresql": (select(*MESSAGE_COLUMNS)
                   .where(Message.thread_id >= bindparam("thread_id"),
                          tuple_(Message.thread_id, Message.id) < tuple_(bindparam("thread_id"), bindparam("before")))
                   .order_by(*_NEWEST_FIRST).limit(bindparam("limit")).execution_options(**{BINARY_RESULTS: True})),
    "sqlite": (select(*MESSAGE_COLUMNS)
               .where(Message.thread_id == bindparam("thread_id"), Message.id < bindparam("before"))
               .order_by(Message.id.desc()).limit(bindparam("limit"))),
}
_NEWEST_ID = select(Message.id).where(_IN_THREAD).order_by(*_NEWEST_FIRST).limit(1)


def latest_messages(session: Session, thread: Thread, before: int | None, limit: int) -> list[Any]:
    """The newest `limit` messages (below `before` if given), newest first, along the index.
    Plain rows with Message's attribute names: the hottest read skips building ORM objects."""
    conn = session.connection()
    if before is None:
        return list(conn.execute(_LATEST, {"thread_id": thread.id, "limit": limit}))
    return list(conn.execute(_LATEST_BEFORE[conn.dialect.name], {"thread_id": thread.id, "before": before,
                                                                 "limit": limit}))


_IS_MEMBER = exists().where(ThreadMember.thread_id == bindparam("thread_id"),
                            ThreadMember.user_id == bindparam("user_id"), ThreadMember.removed_at.is_(None))
_MEMBER_LATEST = _LATEST.where(_IS_MEMBER)
_MEMBER_LATEST_BEFORE = {dialect: stmt.where(_IS_MEMBER) for dialect, stmt in _LATEST_BEFORE.items()}


def member_latest_messages(session: Session, user: User, thread_id: str, before: int | None,
                           limit: int) -> list[Any]:
    """latest_messages for an active member, checked in the same statement; NotFound for
    anyone else. A page with messages costs one statement; an empty one, a membership check."""
    if may_participate(user):
        params = {"thread_id": thread_id, "user_id": user.id, "before": before, "limit": limit}
        # Core rows on the session's connection: nothing here for the ORM to do.
        conn = session.connection()
        rows = conn.execute(_MEMBER_LATEST if before is None else _MEMBER_LATEST_BEFORE[conn.dialect.name],
                            params).all()
        if rows:
            return rows
    membership(session, user, thread_id)
    return []


def mark_read(session: Session, member: ThreadMember, up_to: int) -> None:
    """Move the read marker forward (never back) and re-arm the per-event notification."""
    top = session.scalar(_NEWEST_ID, {"thread_id": member.thread_id}) or 0
    if up_to > top:
        raise Invalid("There is no such message in this thread.")
    if up_to > member.read_up_to:
        member.read_up_to = up_to
        member.notified = False


def notification_mode(session: Session, user: User) -> str:
    pref = session.get(NotificationPreference, user.id)
    return pref.mode if pref else NotifyMode.DIGEST.value


def set_notification_mode(session: Session, user: User, mode: str) -> None:
    if mode not in {m.value for m in NotifyMode}:
        raise Invalid("Choose event, digest or off.")
    pref = session.get(NotificationPreference, user.id)
    if pref is None:
        session.add(NotificationPreference(user_id=user.id, mode=mode))
    else:
        pref.mode = mode


def digest_recipients(session: Session, now: datetime) -> list[tuple[NotificationPreference, str, str]]:
    """Digest users with something unread that arrived since their last digest: (their
    preference, address, language)."""
    from datetime import timedelta

    out = []
    users = session.execute(select(User).outerjoin(NotificationPreference, NotificationPreference.user_id == User.id)
                            .where(User.status == UserStatus.ACTIVE,
                                   (NotificationPreference.mode == NotifyMode.DIGEST.value)
                                   | NotificationPreference.user_id.is_(None))
                            .where(User.id.in_(select(ThreadMember.user_id).where(ThreadMember.removed_at.is_(None)))))
    for (user,) in users:
        pref = session.get(NotificationPreference, user.id)
        if pref is None:
            pref = NotificationPreference(user_id=user.id, mode=NotifyMode.DIGEST.value)
            session.add(pref)
        if pref.last_digest_at is not None and now - pref.last_digest_at < timedelta(hours=23):
            continue
        since = pref.last_digest_at
        waiting = select(Message.id).join(ThreadMember, and_(ThreadMember.thread_id == Message.thread_id,
                                                             ThreadMember.user_id == user.id)) \
            .where(ThreadMember.removed_at.is_(None), Message.id > ThreadMember.read_up_to,
                   Message.sender_id != user.id)
        if since is not None:
            waiting = waiting.where(Message.created_at > since)
        if session.scalar(waiting.limit(1)) is not None:
            out.append((pref, user.email, user.locale))
    return out


# == attachments ===========================================================================

def create_upload(session: Session, user: User, thread: Thread, *, size: int, part_size: int,
                  storage: AttachmentStorage, max_size: int, actor: Actor) -> Attachment:
    if not 1 <= size <= max_size:
        raise Invalid(f"The size must be between 1 byte and {max_size} bytes.")
    if not MIN_PART <= part_size <= MAX_PART and not (part_size >= size and part_size <= MAX_PART):
        raise Invalid(f"The part size must be between {MIN_PART} and {MAX_PART} bytes.")
    parts = -(-size // part_size)
    attachment = Attachment(id=new_id(), thread_id=thread.id, uploader_id=user.id, size=size, part_size=part_size,
                            parts=parts, storage_key=storage.new_key(), created_at=utcnow())
    session.add(attachment)
    session.flush()
    record(session, "threads.attachment_created", actor, target_type="thread_attachment", target_id=attachment.id,
           details={"thread": thread.id, "size": size})
    return attachment


def thread_attachment(session: Session, thread: Thread, attachment_id: str) -> Attachment:
    found = session.scalar(select(Attachment).where(Attachment.id == attachment_id, Attachment.thread_id == thread.id))
    if found is None:
        raise NotFound(attachment_id)
    return found


def expected_part_size(attachment: Attachment, number: int) -> int:
    if not 0 <= number < attachment.parts:
        raise NotFound(number)
    if number == attachment.parts - 1:
        return attachment.size - attachment.part_size * (attachment.parts - 1)
    return attachment.part_size


def check_part_upload(user: User, attachment: Attachment, number: int) -> int:
    if attachment.uploader_id != user.id:
        raise NotFound(attachment.id)  # only the uploader writes parts
    if attachment.completed_at is not None:
        raise Conflict("The upload is complete; parts can no longer change.")
    return expected_part_size(attachment, number)


def store_part(session: Session, storage: AttachmentStorage, attachment: Attachment, number: int,
               stream: BinaryIO, size: int) -> None:
    """Stage and record a part in the caller's transaction (tools and tests; the API stages
    outside its transaction, then calls commit_part)."""
    staged = storage.stage_part(attachment.storage_key, number, stream, size)
    try:
        commit_part(session, storage, session.get(User, attachment.uploader_id), attachment.id, number, staged)
    except BaseException:
        storage.discard(staged)
        raise


def commit_part(session: Session, storage: AttachmentStorage, user: User, attachment_id: str, number: int,
                staged: Any) -> int:
    """Put a staged part in place, with the attachment row locked (FOR UPDATE on PostgreSQL, the
    write lock on SQLite): a completion cannot slip in between the check and the rename."""
    attachment = session.scalar(select(Attachment).where(Attachment.id == attachment_id).with_for_update())
    if attachment is None:
        raise NotFound(attachment_id)
    size = check_part_upload(user, attachment, number)
    storage.commit_part(staged)
    part = session.get(AttachmentPart, (attachment.id, number))
    if part is None:
        session.add(AttachmentPart(attachment_id=attachment.id, number=number, size=size, received_at=utcnow()))
    else:
        part.size, part.received_at = size, utcnow()
    return size


def received_parts(session: Session, attachment: Attachment) -> list[AttachmentPart]:
    return list(session.scalars(select(AttachmentPart).where(AttachmentPart.attachment_id == attachment.id)
                                .order_by(AttachmentPart.number)))


def complete_upload(session: Session, user: User, attachment: Attachment, actor: Actor,
                    lost: list[int] | None = None) -> None:
    """Mark an upload complete once every part is recorded. `lost`: parts that the storage,
    sealing them, found missing or short on disk (an OS crash since they were received): their
    rows go, so that the client sends them again, and the caller commits that before the 409."""
    if attachment.uploader_id != user.id:
        raise NotFound(attachment.id)
    if attachment.completed_at is not None:
        return  # idempotent
    if lost:
        session.execute(delete(AttachmentPart).where(AttachmentPart.attachment_id == attachment.id,
                                                     AttachmentPart.number.in_(lost)))
    parts = received_parts(session, attachment)
    missing = sorted(set(range(attachment.parts)) - {part.number for part in parts})
    if missing:
        raise Conflict("Some parts are missing.", {"missing": missing[:1000]})
    if sum(part.size for part in parts) != attachment.size:
        raise Conflict("The parts do not add up to the declared size.")
    attachment.completed_at = utcnow()
    record(session, "threads.attachment_uploaded", actor, target_type="thread_attachment", target_id=attachment.id,
           details={"thread": attachment.thread_id, "size": attachment.size, "parts": attachment.parts})


def part_sizes(attachment: Attachment) -> list[int]:
    return [expected_part_size(attachment, n) for n in range(attachment.parts)]
