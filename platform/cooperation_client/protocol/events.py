"""The signed, hash-chained thread log and the rules every client applies to it (PROTOCOL.md §6).

Each event is a signed statement (kind "event") made by a member's certified device:

    {"v":1, "thread":hex16, "seq":n, "prev":hex32, "type":..., "actor":hex16, "device":hex16,
     "epoch":e, "ts_ms":t, "body":{...}}

`prev` is the hash of the previous event, SHA-256("TEK1/event" ‖ payload bytes), all zeros for
seq 0. The server orders events (it accepts seq n+1 only on the current head) but cannot forge
them; clients replay the whole log with `replay` and refuse to wrap keys for, or accept
messages from, anyone the log does not prove to be a member.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from . import primitives as P
from .encoding import b64d, b64e, check_id, hexd, label
from .epochs import history_link, wrap_epoch_key
from .errors import ProtocolError, VerificationError
from .statements import Signed, sign_statement, verify_statement

EVENT_TYPES = ("create", "add_state", "remove_state", "add_user", "remove_user", "rotate",
               "set_policy", "rename")
# Events after which the thread key must change: readers leave or join, or a member asked.
EPOCH_OPENING = frozenset({"create", "add_state", "remove_state", "add_user", "remove_user", "rotate"})
ZERO_HASH = bytes(32)
DEFAULT_POLICY: dict[str, bool] = {"share_history": True, "members_add_colleagues": False}
WRAP_LEN = 80       # HPKE enc(32) ‖ epoch key(32) ‖ tag(16)
HISTORY_LEN = 60    # nonce(12) ‖ previous key(32) ‖ tag(16)


def event_hash(payload: bytes) -> bytes:
    return P.sha256(label("TEK1/event") + payload)


# -- who is who (built by the client from verified certificates) -----------------------------

@dataclass(frozen=True)
class UserInfo:
    state: str
    admin: bool


@dataclass
class Directory:
    """Users and devices whose certificate chains the client has verified (user certificate by
    a pinned State authority, device certificate by the user's UIK). Nothing else counts."""

    users: dict[bytes, UserInfo] = field(default_factory=dict)
    devices: dict[tuple[bytes, bytes], bytes] = field(default_factory=dict)  # (user, device) → sig_pub


# -- the state a replayed log yields ---------------------------------------------------------

@dataclass(frozen=True)
class ThreadState:
    thread_id: bytes
    seq: int
    head_hash: bytes
    epoch: int
    owner_state: str
    states: frozenset[str]
    members: Mapping[bytes, str]                      # user → State
    policy: Mapping[str, bool]
    meta: bytes | None                                # encrypted title blob (epochs.encrypt_meta)
    meta_epoch: int
    wraps: Mapping[int, Mapping[bytes, tuple[int, bytes]]]   # epoch → user → (PUK gen, wrap)
    history: Mapping[int, bytes]                      # epoch → link to the previous epoch key
    # Every head this log has had: event hash → the epoch after that event (its "epoch" field).
    # A message names the head its sender saw (PROTOCOL.md §5); knows_head checks it against these.
    heads: Mapping[bytes, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """A verified, parsed event."""

    seq: int
    type: str
    actor: bytes
    device: bytes
    epoch: int
    ts_ms: int
    body: dict[str, Any]
    hash: bytes


# -- building events -------------------------------------------------------------------------

def keys_record(*, epoch_key: bytes, thread_id: bytes, epoch: int, recipients: Mapping[bytes, tuple[int, bytes]],
                previous_key: bytes | None = None, ephemeral_seeds: Mapping[bytes, bytes] | None = None,
                history_nonce: bytes | None = None) -> dict[str, Any]:
    """The epoch record carried by an epoch-opening event: one wrap per member's current PUK
    (`recipients`: user → (PUK gen, PUK X25519 public)), and the history link if the thread
    shares history. `ephemeral_seeds`/`history_nonce` are for test vectors only."""
    wraps = []
    for user in sorted(recipients):
        gen, dh_pub = recipients[user]
        seed = (ephemeral_seeds or {}).get(user)
        blob = wrap_epoch_key(epoch_key, thread_id=thread_id, epoch=epoch, user_id=user, puk_gen=gen,
                              puk_dh_pub=dh_pub, ephemeral_seed=seed)
        wraps.append({"user": user.hex(), "gen": gen, "blob": b64e(blob)})
    link = None
    if previous_key is not None:
        link = b64e(history_link(epoch_key, previous_key, thread_id=thread_id, epoch=epoch, nonce=history_nonce))
    return {"wraps": wraps, "history": link}


def make_event(event_type: str, body: dict[str, Any], *, thread_id: bytes, seq: int, prev_hash: bytes,
               actor: bytes, device_id: bytes, device_key: Ed25519PrivateKey, epoch: int, ts_ms: int) -> Signed:
    if event_type not in EVENT_TYPES:
        raise ProtocolError("unknown event type")
    return sign_statement("event", {
        "v": 1, "thread": check_id(thread_id).hex(), "seq": seq, "prev": prev_hash.hex(), "type": event_type,
        "actor": check_id(actor).hex(), "device": check_id(device_id).hex(), "epoch": epoch, "ts_ms": ts_ms,
        "body": body}, device_key)


def next_event(state: ThreadState, event_type: str, body: dict[str, Any], *, actor: bytes, device_id: bytes,
               device_key: Ed25519PrivateKey, ts_ms: int) -> Signed:
    """The event that follows `state`'s head (epoch incremented if the type opens one)."""
    epoch = state.epoch + 1 if event_type in EPOCH_OPENING else state.epoch
    return make_event(event_type, body, thread_id=state.thread_id, seq=state.seq + 1, prev_hash=state.head_hash,
                      actor=actor, device_id=device_id, device_key=device_key, epoch=epoch, ts_ms=ts_ms)


# -- verifying -------------------------------------------------------------------------------

def _int(value: object, what: str) -> int:
    if type(value) is not int or value < 0:
        raise ProtocolError(f"{what} must be a non-negative integer")
    return value


def _parse(statement: Signed, directory: Directory, thread_id: bytes | None) -> Event:
    """Check the signature with the actor's certified device key, then the envelope fields."""
    try:
        unverified = json.loads(statement.payload.decode("utf-8"))
        actor, device = hexd(unverified["actor"], 16), hexd(unverified["device"], 16)
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise ProtocolError("malformed event") from exc
    sig_pub = directory.devices.get((actor, device))
    if sig_pub is None or actor not in directory.users:
        raise VerificationError("event signed by an unknown or uncertified device")
    obj = verify_statement(statement, "event", sig_pub)
    if obj.get("type") not in EVENT_TYPES or not isinstance(obj.get("body"), dict):
        raise ProtocolError("malformed event")
    if thread_id is not None and hexd(obj.get("thread", ""), 16) != thread_id:
        raise VerificationError("event belongs to another thread")
    hexd(obj.get("prev", ""), 32)  # validates the field's shape; compared in apply/replay
    return Event(_int(obj.get("seq"), "seq"), obj["type"], actor, device, _int(obj.get("epoch"), "epoch"),
                 _int(obj.get("ts_ms"), "ts_ms"), obj["body"], event_hash(statement.payload))


def _prev(statement: Signed) -> tuple[bytes, bytes]:
    obj = json.loads(statement.payload.decode("utf-8"))
    return hexd(obj["thread"], 16), hexd(obj["prev"], 32)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise VerificationError(message)


def _policy(value: object) -> dict[str, bool]:
    if not isinstance(value, dict) or set(value) != set(DEFAULT_POLICY) or not all(
            isinstance(v, bool) for v in value.values()):
        raise ProtocolError("invalid policy")
    return dict(value)


def _roster(value: object, directory: Directory) -> dict[bytes, str]:
    """A list of {"user", "state"} whose States match the directory's certificates."""
    if not isinstance(value, list) or not value:
        raise ProtocolError("member list must be a non-empty list")
    roster: dict[bytes, str] = {}
    for entry in value:
        if not isinstance(entry, dict):
            raise ProtocolError("member entries must be objects")
        user, state = hexd(entry.get("user", ""), 16), entry.get("state")
        info = directory.users.get(user)
        _require(info is not None and info.state == state, "member not certified for the stated State")
        _require(user not in roster, "duplicate member")
        roster[user] = state
    return roster


def _keys(body: dict[str, Any], members: Mapping[bytes, str], with_history: bool) -> tuple[dict[bytes, tuple[int, bytes]], bytes | None]:
    """The epoch record must wrap the key to exactly the members the log implies."""
    record = body.get("keys")
    if not isinstance(record, dict) or not isinstance(record.get("wraps"), list):
        raise ProtocolError("epoch-opening event without an epoch record")
    wraps: dict[bytes, tuple[int, bytes]] = {}
    for entry in record["wraps"]:
        if not isinstance(entry, dict):
            raise ProtocolError("wrap entries must be objects")
        user = hexd(entry.get("user", ""), 16)
        gen = _int(entry.get("gen"), "gen")
        _require(gen >= 1 and user not in wraps, "invalid wrap entry")
        wraps[user] = (gen, b64d(entry.get("blob", ""), WRAP_LEN))
    _require(set(wraps) == set(members), "epoch key wrapped for a set other than the members")
    history = record.get("history")
    if with_history:
        _require(isinstance(history, str), "history link missing although the thread shares history")
        return wraps, b64d(history, HISTORY_LEN)
    _require(history is None, "history link present although the thread does not share history")
    return wraps, None


def _owner_admin(state: ThreadState, actor: bytes, directory: Directory) -> bool:
    info = directory.users[actor]
    return info.admin and info.state == state.owner_state


def _create(event: Event, thread_id: bytes, directory: Directory) -> ThreadState:
    body = event.body
    _require(event.seq == 0 and event.epoch == 1, "a thread starts with create at seq 0, epoch 1")
    owner = directory.users[event.actor].state
    _require(body.get("owner_state") == owner, "the creator's State must own the thread")
    states = body.get("states")
    if not isinstance(states, list) or not all(isinstance(s, str) for s in states) or len(set(states)) != len(states):
        raise ProtocolError("invalid State list")
    members = _roster(body.get("members"), directory)
    _require(owner in states and set(members.values()) <= set(states), "members must belong to the thread's States")
    _require(event.actor in members, "the creator must be a member")
    policy = _policy(body.get("policy"))
    wraps, _ = _keys(body, members, with_history=False)
    meta = b64d(body["meta"]) if isinstance(body.get("meta"), str) else None
    return ThreadState(thread_id, 0, event.hash, 1, owner, frozenset(states), members, policy, meta, 1,
                       {1: wraps}, {}, {event.hash: 1})


def _membership(state: ThreadState, event: Event, directory: Directory) -> tuple[frozenset[str], dict[bytes, str]]:
    """The States and members after a membership event, if the actor was allowed to make it."""
    body, states, members = event.body, set(state.states), dict(state.members)
    actor_info = directory.users[event.actor]
    owner_admin = _owner_admin(state, event.actor, directory)
    if event.type == "add_state":
        new_state = body.get("state")
        _require(owner_admin, "only the owner State's administrators add States")
        _require(isinstance(new_state, str) and new_state not in states, "State already in the thread")
        roster = _roster(body.get("members"), directory)
        _require(set(roster.values()) == {new_state}, "the roster must list users of the added State")
        states.add(new_state)
        members.update(roster)
    elif event.type == "remove_state":
        gone = body.get("state")
        _require(owner_admin, "only the owner State's administrators remove States")
        _require(isinstance(gone, str) and gone in states and gone != state.owner_state, "cannot remove this State")
        states.discard(gone)
        members = {u: s for u, s in members.items() if s != gone}
    elif event.type == "add_user":
        user, user_state = hexd(body.get("user", ""), 16), body.get("state")
        info = directory.users.get(user)
        _require(info is not None and info.state == user_state and user_state in states, "user not addable")
        _require(user not in members, "already a member")
        colleague = actor_info.state == user_state and (actor_info.admin or state.policy["members_add_colleagues"])
        _require(colleague or owner_admin, "not allowed to add this user")
        members[user] = user_state
    elif event.type == "remove_user":
        user = hexd(body.get("user", ""), 16)
        _require(user in members, "not a member")
        own_admin = actor_info.admin and actor_info.state == members[user]
        _require(user == event.actor or own_admin or owner_admin, "not allowed to remove this user")
        del members[user]
    _require(bool(members), "a thread cannot lose its last member")
    return frozenset(states), members


def apply(state: ThreadState, statement: Signed, directory: Directory) -> ThreadState:
    """Verify one event against the current state and return the state after it."""
    event = _parse(statement, directory, state.thread_id)
    _, prev = _prev(statement)
    _require(event.seq == state.seq + 1 and prev == state.head_hash, "event does not extend the log head")
    _require(event.actor in state.members, "only members change a thread")
    opening = event.type in EPOCH_OPENING
    _require(event.epoch == state.epoch + (1 if opening else 0), "wrong epoch for this event")
    if event.type == "create":
        raise VerificationError("a thread is created only once")
    changes: dict[str, Any] = {"seq": event.seq, "head_hash": event.hash, "epoch": event.epoch,
                               "heads": {**state.heads, event.hash: event.epoch}}
    if event.type in ("add_state", "remove_state", "add_user", "remove_user"):
        states, members = _membership(state, event, directory)
        changes.update(states=states, members=members)
    elif event.type == "set_policy":
        _require(_owner_admin(state, event.actor, directory), "only the owner State's administrators set policy")
        changes["policy"] = _policy(event.body.get("policy"))
    elif event.type == "rename":
        changes.update(meta=b64d(event.body.get("meta", "")), meta_epoch=event.epoch)
    if opening:
        wraps, link = _keys(event.body, changes.get("members", state.members), bool(state.policy["share_history"]))
        changes["wraps"] = {**state.wraps, event.epoch: wraps}
        if link is not None:
            changes["history"] = {**state.history, event.epoch: link}
    return replace(state, **changes)


def replay(statements: Iterable[Signed], directory: Directory, thread_id: bytes) -> ThreadState:
    """Verify a whole log from its create event; raises at the first bad event."""
    iterator = iter(statements)
    try:
        first = next(iterator)
    except StopIteration:
        raise ProtocolError("empty thread log") from None
    event = _parse(first, directory, thread_id)
    _require(event.type == "create" and _prev(first)[1] == ZERO_HASH, "the log must start with create")
    state = _create(event, check_id(thread_id), directory)
    for statement in iterator:
        state = apply(state, statement, directory)
    return state


# -- client-side checks before using an epoch ------------------------------------------------

def members_needing_rotation(state: ThreadState, directory: Directory) -> set[bytes]:
    """Members whose certificate is no longer valid (deactivated, identity reset): a client
    refuses to send in the current epoch until someone rotates them out (lazy rotation)."""
    return {user for user, st in state.members.items()
            if (info := directory.users.get(user)) is None or info.state != st}


def can_send(state: ThreadState, user: bytes, directory: Directory) -> bool:
    return user in state.members and not members_needing_rotation(state, directory)


# -- fork and withholding detection (PROTOCOL.md §6) -------------------------------------------

def knows_head(state: ThreadState, head_hash: bytes, epoch: int) -> bool:
    """Whether (epoch, head_hash) of a message header names a head of this verified log: an event
    whose hash is head_hash and whose epoch (the epoch after it) is epoch. True when the sender's
    view of the log is a prefix of this one; False when the sender saw events this log lacks
    (ahead of it, or a history the server did not give this reader)."""
    return state.heads.get(bytes(head_hash)) == epoch
