"""Creating threads and changing who reads them (PROTOCOL.md §6, §12).

Every change that opens an epoch draws a fresh key and wraps it to exactly the members the log
will imply after the event, at each member's current PUK generation (from the roster, records
verified). The event is checked locally with events.apply before it is sent, and a 409 (someone
else moved the head) means: reload, rebuild, sign again.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cooperation_client.protocol import epochs, events
from cooperation_client.protocol.encoding import b64d, b64e
from cooperation_client.protocol.errors import ProtocolError
from cooperation_client.protocol.statements import Signed

from .api import ApiClient, b64url
from .directory import KeyBook, RosterUser, user_bytes
from .errors import ApiError, ClientError
from .thread_log import EpochKeys, ThreadView

TOPICS = ("tracing", "identification", "freezing", "seizure", "forfeiture", "reparations", "other")
PARTY_CODE = re.compile(r"\A[A-Z][A-Z0-9-]{1,15}\Z")
MAX_TITLE = 300
ATTEMPTS = 4


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Roster:
    """Who can be given the thread key: users whose keys verified, and those refused with why
    (changed identity key, bad record), so that one colleague's problem blocks only what needs
    that colleague."""

    usable: dict[int, RosterUser] = field(default_factory=dict)
    refused: dict[int, tuple[str, ClientError]] = field(default_factory=dict)  # user → (name, why)

    def require(self, user_id: int) -> RosterUser:
        if user_id in self.refused:
            raise self.refused[user_id][1]
        if user_id not in self.usable:
            raise ClientError(f"User {user_id} has no usable keys (deactivated, or never enrolled).")
        return self.usable[user_id]


def roster(api: ApiClient, book: KeyBook, thread_id: str, party: str | None = None) -> Roster:
    """The roster of the thread's parties; `party` asks for a State not yet in the thread
    (add_state: its users must get the new key in the very event that adds it)."""
    data = api.get(f"/api/v1/threads/{thread_id}/roster", {"party": party} if party else None)
    out = Roster()
    for group in data.get("parties", []):
        for entry in group.get("users", []):
            try:
                user = book.roster_user(str(group["party"]), entry)
            except ClientError as exc:
                out.refused[int(entry["user_id"])] = (str(entry.get("name", "")), exc)
                continue
            if user is not None:
                out.usable[user.user_id] = user
    return out


def _api_wraps(record: dict[str, Any]) -> list[dict[str, Any]]:
    """§12: the API's epoch.wraps mirror the signed body.keys.wraps."""
    return [{"user_id": int(w["user"], 16), "generation": w["gen"], "wrap": b64url(b64d(w["blob"]))}
            for w in record["wraps"]]


def _post_event(api: ApiClient, thread_id: str, statement: Signed, *, seq: int, prev_hash: bytes, kind: str,
                device_id: bytes, epoch: int | None, record: dict[str, Any] | None, party: str | None = None,
                users: list[int] | None = None, meta: bytes | None = None) -> None:
    payload: dict[str, Any] = {"seq": seq, "prev_hash": b64url(prev_hash), "type": kind, "device_id": device_id.hex(),
                               "event": b64url(statement.payload), "signature": b64url(statement.signature)}
    if party is not None:
        payload["party"] = party
    if users:
        payload["users"] = users
    if meta is not None:
        payload["meta"] = b64url(meta)
    if record is not None and epoch is not None:
        payload["epoch"] = {"number": epoch, "wraps": _api_wraps(record)}
    api.post(f"/api/v1/threads/{thread_id}/events", payload)


def _recipients(users: list[RosterUser]) -> dict[bytes, tuple[int, bytes]]:
    return {user_bytes(u.user_id): (u.gen, u.dh_pub) for u in users}


def check_meta(title: str, topic: str, court_ref: str | None) -> dict[str, Any]:
    title = title.strip()
    if not title or len(title) > MAX_TITLE:
        raise ClientError(f"The title must be 1 to {MAX_TITLE} characters.")
    if topic not in TOPICS:
        raise ClientError(f"The topic must be one of: {', '.join(TOPICS)}.")
    if court_ref is not None and len(court_ref) > MAX_TITLE:
        raise ClientError("The court reference is too long.")
    return {"v": 1, "title": title, "topic": topic, "court_ref": court_ref or None}


@dataclass(frozen=True)
class Created:
    thread_id: str
    skipped: list[str]     # roster users left out: changed identity key or invalid key record


def create(api: ApiClient, book: KeyBook, *, title: str, topic: str, parties: list[str],
           court_ref: str | None = None) -> Created:
    """POST /threads, then the signed create event: every roster user of the chosen parties
    (own party included) whose keys verify becomes a member and gets a wrap of the first epoch
    key; the others are reported, as the browser does."""
    meta_obj = check_meta(title, topic, court_ref)
    codes = list(dict.fromkeys(code.strip().upper() for code in parties))
    bad = [c for c in codes if not PARTY_CODE.match(c)]
    if bad:
        raise ClientError(f"Not a party code: {', '.join(bad)} (for example NLD or ICC-REG).")
    me = book.me
    mine = book.user(me.user_id)
    if mine is None:
        raise ClientError("Your own keys are not on the server: run cooperation-client enrol.")
    thread_id = str(api.post("/api/v1/threads", {"parties": codes})["id"])
    found = roster(api, book, thread_id)
    found.require(me.user_id)
    members = list(found.usable.values())
    tid = bytes.fromhex(thread_id)
    key = epochs.new_epoch_key()
    record = events.keys_record(epoch_key=key, thread_id=tid, epoch=1, recipients=_recipients(members))
    meta = epochs.encrypt_meta(key, meta_obj, thread_id=tid, epoch=1)
    states = list(dict.fromkeys([mine.state, *codes]))
    body = {"owner_state": mine.state, "states": states,
            "members": [{"user": user_bytes(u.user_id).hex(), "state": u.state} for u in members],
            "policy": dict(events.DEFAULT_POLICY), "keys": record, "meta": b64e(meta)}
    statement = events.make_event("create", body, thread_id=tid, seq=0, prev_hash=events.ZERO_HASH,
                                  actor=me.user_bytes, device_id=me.device.device_id, device_key=me.device.sig,
                                  epoch=1, ts_ms=_now_ms())
    try:
        events.replay([statement], book.directory([me.user_id], members), tid)
    except ProtocolError as exc:
        raise ClientError(f"Cannot create this thread: {exc}.") from None
    _post_event(api, thread_id, statement, seq=0, prev_hash=events.ZERO_HASH, kind="create",
                device_id=me.device.device_id, epoch=1, record=record, users=[u.user_id for u in members], meta=meta)
    return Created(thread_id, sorted(name or f"user {uid}" for uid, (name, _) in found.refused.items()))


def change(api: ApiClient, book: KeyBook, keys: EpochKeys, load: Callable[[str], ThreadView], thread_id: str,
           kind: str, *, party: str | None = None, user_id: int | None = None) -> ThreadView:
    """add_state / remove_state / add_user / remove_user / rotate, as the next signed event."""
    for _ in range(ATTEMPTS):
        view = load(thread_id)
        try:
            appended = _change_once(api, book, keys, view, kind, party=party, user_id=user_id)
        except ApiError as exc:
            if exc.status == 409:
                continue  # the head moved: replay the new log and build the event again
            raise
        after = load(thread_id)
        if not events.knows_head(after.state, appended.head_hash, appended.epoch):  # PROTOCOL.md §6
            raise ClientError("The server accepted this change but its log of the thread does not contain it: it "
                              "shows a different history than before. Compare the thread safety code (members) "
                              "with the other participants by phone or in person.")
        return after
    raise ClientError("The thread kept changing while this change was being made; try again.")


def _change_once(api: ApiClient, book: KeyBook, keys: EpochKeys, view: ThreadView, kind: str, *,
                 party: str | None, user_id: int | None) -> events.ThreadState:
    """Build, check and append the event; returns the state after it, as this client verified it."""
    me, state = book.me, view.state
    if me.user_bytes not in state.members:
        raise ClientError("You are not a member of this thread.")
    available = roster(api, book, view.thread_id)
    members = {int.from_bytes(u, "big"): s for u, s in state.members.items()}
    body: dict[str, Any]
    api_party, api_users, added = None, [], []
    if kind == "add_state":
        if not party:
            raise ClientError("Name the State to add.")
        added = [u for u in roster(api, book, view.thread_id, party).usable.values() if u.state == party]
        if not added:
            raise ClientError(f"No user of {party} has set up encryption keys yet; nobody to add.")
        after = {**members, **{u.user_id: u.state for u in added}}
        available.usable.update({u.user_id: u for u in added})
        body = {"state": party, "members": [{"user": user_bytes(u.user_id).hex(), "state": u.state} for u in added]}
        api_party, api_users = party, [u.user_id for u in added]
    elif kind == "remove_state":
        if not party:
            raise ClientError("Name the State to remove.")
        after = {u: s for u, s in members.items() if s != party}
        body, api_party = {"state": party}, party
    elif kind == "add_user":
        if user_id is None:
            raise ClientError("Name the user to add.")
        if user_id in members:
            raise ClientError(f"User {user_id} is already a member.")
        added = [available.require(user_id)]
        after = {**members, user_id: added[0].state}
        body = {"user": user_bytes(user_id).hex(), "state": added[0].state}
        api_users = [user_id]
    elif kind == "remove_user":
        if user_id is None or user_id not in members:
            raise ClientError(f"User {user_id} is not a member of this thread.")
        after = {u: s for u, s in members.items() if u != user_id}
        body, api_users = {"user": user_bytes(user_id).hex()}, [user_id]
    elif kind == "rotate":
        after, body = members, {"reason": "manual"}
    else:
        raise ClientError(f"Unknown change {kind}.")
    recipients = [available.require(u) for u in sorted(after)]  # never a key to a changed identity
    epoch = state.epoch + 1
    previous = keys.key(view, state.epoch) if state.policy.get("share_history") else None
    key = epochs.new_epoch_key()
    record = events.keys_record(epoch_key=key, thread_id=view.tid, epoch=epoch, recipients=_recipients(recipients),
                                previous_key=previous)
    body["keys"] = record
    statement = events.next_event(state, kind, body, actor=me.user_bytes, device_id=me.device.device_id,
                                  device_key=me.device.sig, ts_ms=_now_ms())
    directory = events.Directory(dict(view.directory.users), dict(view.directory.devices))
    for user in added:
        directory.users.setdefault(user_bytes(user.user_id), events.UserInfo(user.state, user.admin))
    try:
        appended = events.apply(state, statement, directory)
    except ProtocolError as exc:
        raise ClientError(f"Not allowed: {exc}.") from None
    _post_event(api, view.thread_id, statement, seq=state.seq + 1, prev_hash=state.head_hash, kind=kind,
                device_id=me.device.device_id, epoch=epoch, record=record, party=api_party, users=api_users)
    view.epoch_keys[epoch] = key
    return appended


def stale_wraps(view: ThreadView, book: KeyBook) -> bool:
    """Lazy rotation (PROTOCOL.md §6): a member moved to a newer PUK generation (a device was
    revoked or replaced) since the current epoch was wrapped; the next sender opens a new epoch
    so that a device left behind cannot read what follows."""
    for user, (gen, _) in view.state.wraps.get(view.state.epoch, {}).items():
        keys = book.user(int.from_bytes(user, "big"))
        if keys is not None and max(keys.generations, default=0) > gen:  # published, signed records
            return True
    return False
