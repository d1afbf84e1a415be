"""Loading a thread: fetch the signed log, verify it with events.replay against the verified
directory, and open epoch keys (PUK wrap → epoch key, or a history link from a later epoch).

Nothing the server says about membership or keys is used unless the replayed log proves it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cooperation_client.protocol import epochs, events
from cooperation_client.protocol.encoding import hexd
from cooperation_client.protocol.errors import ProtocolError
from cooperation_client.protocol.keys import PerUserKey, open_previous
from cooperation_client.protocol.statements import Signed

from .api import ApiClient, unb64url
from .directory import Generation, KeyBook, user_int
from .errors import ClientError, NoEpochKey
from .store import LocalKeys

PAGE = 500
META_FIELDS = ("title", "topic", "court_ref")


def fetch_log(api: ApiClient, thread_id: str) -> tuple[list[Signed], dict[str, Any]]:
    """Every event in order, and the head the server reports."""
    statements: list[Signed] = []
    params: dict[str, Any] = {"limit": PAGE}
    while True:
        page = api.get(f"/api/v1/threads/{thread_id}/events", params)
        rows = page.get("events", [])
        for row in rows:
            statements.append(Signed("event", unb64url(row["event"], "event"),
                                     unb64url(row["signature"], "signature")))
        if len(rows) < PAGE:
            return statements, page.get("head", {})
        params = {"limit": PAGE, "after": rows[-1]["seq"]}


def named_users(statements: list[Signed]) -> set[int]:
    """Users an (unverified) log mentions: whose keys are needed to verify it."""
    found: set[int] = set()
    for statement in statements:
        try:
            obj = json.loads(statement.payload.decode("utf-8"))
            found.add(user_int(hexd(obj["actor"], 16)))
            body = obj.get("body", {})
            for entry in body.get("members", []) or []:
                found.add(user_int(hexd(entry["user"], 16)))
            if isinstance(body.get("user"), str):
                found.add(user_int(hexd(body["user"], 16)))
        except (UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError, ProtocolError):
            continue  # replay will refuse it with a proper reason
    return found


@dataclass
class ThreadView:
    """A verified thread: replayed state, the directory it was checked against, and keys."""

    thread_id: str
    state: events.ThreadState
    directory: events.Directory
    epoch_keys: dict[int, bytes] = field(default_factory=dict)
    server: dict[str, Any] = field(default_factory=dict)

    @property
    def tid(self) -> bytes:
        return self.state.thread_id

    def members(self) -> dict[int, str]:
        return {user_int(u): s for u, s in self.state.members.items()}


def replay(thread_id: str, statements: list[Signed], directory: events.Directory,
           unavailable: set[int] | None = None) -> events.ThreadState:
    try:
        return events.replay(statements, directory, bytes.fromhex(thread_id))
    except ProtocolError as exc:
        hint = ""
        if unavailable:
            hint = f"; the keys of user(s) {', '.join(map(str, sorted(unavailable)))} are not available to you"
        raise ClientError(f"The thread's signed log does not verify ({exc}{hint}); not showing it.") from None


def load(api: ApiClient, book: KeyBook, thread_id: str) -> ThreadView:
    if len(thread_id) != 32 or any(c not in "0123456789abcdef" for c in thread_id):
        raise ClientError("A thread id is 32 lowercase hexadecimal characters.")
    server = api.get(f"/api/v1/threads/{thread_id}")
    statements, head = fetch_log(api, thread_id)
    if not statements:
        raise ClientError("This thread has no signed log yet (its creator did not finish creating it).")
    named = named_users(statements) | {book.me.user_id}
    directory = book.directory(named)
    state = replay(thread_id, statements, directory, {u for u in named if book.user(u) is None})
    if head.get("hash") is not None and unb64url(head["hash"], "head") != state.head_hash:
        raise ClientError("The server withheld part of the thread's log (its head does not match).")
    return ThreadView(thread_id, state, directory, server=server)


def refresh(api: ApiClient, book: KeyBook, view: ThreadView) -> None:
    """Fetch and verify the log again, in place (a message named a head `view` lacks: its sender
    may simply be ahead). Epoch keys already opened stay valid: the new log must extend the old
    one, since the log is append-only; if it does not, the server showed this client two
    different histories of the thread (PROTOCOL.md §6)."""
    fresh = load(api, book, view.thread_id)
    if not events.knows_head(fresh.state, view.state.head_hash, view.state.epoch):
        raise ClientError("The server now shows a different history of this thread than it showed before: compare "
                          "the thread safety code (members) with the other participants by phone or in person.")
    view.state, view.directory, view.server = fresh.state, fresh.directory, fresh.server


class EpochKeys:
    """Opens K_{t,e} for this user: its own wrap (PUK of that generation, older generations
    reached through signed prev links) or, with shared history, the link from epoch e+1."""

    def __init__(self, keys: LocalKeys, generations: dict[int, Generation]) -> None:
        self.keys, self.generations = keys, generations

    def puk(self, gen: int) -> PerUserKey | None:
        if gen in self.keys.puks:
            return self.keys.puks[gen]
        newer = min((g for g in self.keys.puks if g > gen), default=None)
        if newer is None:
            return None
        puk = self.keys.puks[newer]
        while puk.gen > gen:
            record = self.generations.get(puk.gen)
            if record is None or record.prev_link is None:
                return None
            puk = open_previous(puk, record.prev_link)
            self.keys.puks[puk.gen] = puk
        return puk

    def key(self, view: ThreadView, epoch: int) -> bytes:
        if epoch in view.epoch_keys:
            return view.epoch_keys[epoch]
        if not 1 <= epoch <= view.state.epoch:
            raise NoEpochKey(epoch)
        key = self._own_wrap(view, epoch)
        if key is None:
            link = view.state.history.get(epoch + 1)
            if link is None or epoch + 1 > view.state.epoch:
                raise NoEpochKey(epoch)
            newer = self.key(view, epoch + 1)
            try:
                key = epochs.open_history_link(newer, link, thread_id=view.tid, epoch=epoch + 1)
            except ProtocolError:
                raise NoEpochKey(epoch) from None
        view.epoch_keys[epoch] = key
        return key

    def _own_wrap(self, view: ThreadView, epoch: int) -> bytes | None:
        wrap = view.state.wraps.get(epoch, {}).get(self.keys.user_bytes)
        if wrap is None:
            return None
        gen, blob = wrap
        try:
            puk = self.puk(gen)
            if puk is None:
                return None
            return epochs.unwrap_epoch_key(puk, thread_id=view.tid, epoch=epoch, blob=blob)
        except ProtocolError:
            return None


def decrypt_meta(view: ThreadView, keys: EpochKeys) -> dict[str, Any] | None:
    """The title, topic and case reference; None if they cannot be read."""
    if view.state.meta is None:
        return None
    try:
        meta = epochs.decrypt_meta(keys.key(view, view.state.meta_epoch), view.state.meta,
                                   thread_id=view.tid, epoch=view.state.meta_epoch)
    except (ProtocolError, NoEpochKey):
        return None
    return {k: meta.get(k) for k in META_FIELDS if isinstance(meta.get(k), str | None)}
