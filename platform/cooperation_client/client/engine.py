"""The client as one object: what the CLI (and any integration by a national authority's
case-management system) calls. Each method is one user-level action; the modules beside this
one hold the protocol work.

    client = Client.open(server="https://platform.example.org")
    client.login(announce=print)                 # OAuth device flow, once
    recovery_key = client.enrol()                # first device: show the key once
    thread_id = client.create_thread(title="…", topic="tracing", parties=["SEN"])
    client.post(thread_id, "text", handling="participants-only", attachments=[Path("a.pdf")])
    for item in client.messages(thread_id): ...
"""

from __future__ import annotations

import platform
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from cooperation_client.protocol import fingerprints

from . import account, conversation, files, oauth, thread_ops
from .api import ApiClient, normalise_server, unb64url
from .conversation import AttachmentRef, MessageItem
from .directory import Generation, KeyBook, user_bytes
from .errors import ApiError, ClientError
from .store import LocalKeys, Store, locate
from .thread_log import EpochKeys, ThreadView, decrypt_meta, load


@dataclass(frozen=True)
class ThreadSummary:
    thread_id: str
    title: str | None          # None: could not be decrypted (see warning)
    topic: str | None
    court_ref: str | None
    unread: int
    unread_capped: bool
    epoch: int
    warning: str | None = None


@dataclass(frozen=True)
class Member:
    user_id: int
    name: str
    state: str
    fingerprint: str           # 30 digits of the user's identity key (PROTOCOL.md §9)
    pinned: bool               # the key is the one pinned on first use (or one's own)


def default_label() -> str:
    return f"cooperation-client on {platform.node() or 'this computer'}"[:100]


class Client:
    def __init__(self, store: Store, api: ApiClient) -> None:
        self.store, self.api = store, api
        self._keys: LocalKeys | None = None
        self._generations: dict[int, Generation] = {}
        self._synced = False
        self.last_skipped: list[str] = []
        self._book: KeyBook | None = None

    @classmethod
    def open(cls, *, home: str | None = None, server: str | None = None,
             transport: httpx.BaseTransport | None = None, ca_bundle: str | None = None) -> Client:
        """The keystore for `server` (or the only one there is), and an API client for it."""
        store = Store(locate(home, server))
        address = normalise_server(server) if server else store.server
        if address is None:
            raise ClientError("No server configured: run cooperation-client login SERVER.")
        if server and store.server and store.server != address:
            raise ClientError(f"This keystore belongs to {store.server}; use another --home for {address}.")
        return cls(store, ApiClient(address, tokens=oauth.StoredTokens(store), transport=transport,
                                    ca_bundle=ca_bundle))

    def close(self) -> None:
        self.api.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- session -------------------------------------------------------------------------

    def login(self, announce: Callable[[oauth.DeviceCode], None], *, sleep: Callable[[float], None] = time.sleep,
              scope: str = oauth.SCOPE) -> dict[str, Any]:
        """RFC 8628 device flow; `announce` shows the URL and code to the user."""
        device_code, shown = oauth.start(self.api, scope)
        announce(shown)
        tokens = oauth.poll(self.api, device_code, shown, sleep=sleep)
        keys = self.store.keys()
        self.store.set_server(self.api.server)
        oauth.revoke(self.api, self.store)  # a sign-in replaces the previous one: end its grant
        oauth.StoredTokens(self.store).save(tokens)
        me = self.api.get("/api/v1/me")
        if keys is not None and keys.user_id != me["id"]:
            oauth.revoke(self.api, self.store)
            raise ClientError("This keystore holds another user's keys; sign in with --home pointing elsewhere.")
        self.store.write("account", {"user_id": me["id"], "party": me.get("party")})
        return me  # type: ignore[no-any-return]

    def logout(self) -> bool:
        return oauth.revoke(self.api, self.store)

    def me(self) -> dict[str, Any]:
        return self.api.get("/api/v1/me")  # type: ignore[no-any-return]

    def user_id(self) -> int:
        data = self.store.read("account")
        if not data:
            raise ClientError("Not signed in: run cooperation-client login SERVER.")
        return int(data["user_id"])

    def whoami(self) -> dict[str, Any]:
        me = self.me()
        keys = self.store.keys()
        out = {**me, "server": self.api.server, "keystore": str(self.store.path), "enrolled": keys is not None}
        if keys is not None:
            out.update(device_id=keys.device.device_id.hex(), key_generation=max(keys.puks),
                       fingerprint=fingerprints.group(fingerprints.user_fingerprint(keys.user_bytes, keys.uik.public)))
        return out

    # -- own keys ------------------------------------------------------------------------

    def enrol(self, label: str | None = None) -> str:
        """First device; returns the Recovery Key text (show it once, never store it)."""
        return account.enrol(self.api, self.store, self.user_id(), label or default_label())

    def recover(self, recovery_key: str, label: str | None = None) -> None:
        self._keys = account.recover(self.api, self.store, self.user_id(), recovery_key, label or default_label())

    def devices(self) -> list[dict[str, Any]]:
        """This user's devices: id, label, created_at, revoked_at, this (install), certified."""
        return account.devices(self.api, self.keys())

    def revoke_device(self, device_id: str) -> bool:
        """Revoke another device of this user; the user's keys move to a new generation that the
        revoked device does not get, and the recovery blob is re-sealed with it. False if this
        install could not re-seal it (set up before the blob's format 2: see update_recovery)."""
        resealed = account.revoke_device(self.api, self.store, self.keys(), device_id)
        self._synced = False  # a new generation: epoch keys and records are read again
        self._book = None
        return resealed

    def can_reseal_recovery(self) -> bool:
        """Whether this install holds the recovery public key (PROTOCOL.md §8)."""
        return self.keys().recovery is not None

    def update_recovery(self, recovery_key: str) -> None:
        """Enter the Recovery Key once on an install that lacks the recovery public key: the
        recovery blob is re-sealed now, and after every later change of devices from here."""
        account.update_recovery(self.api, self.store, self.keys(), recovery_key)

    def keys(self) -> LocalKeys:
        """Local keys, brought up to date with generations published by other devices (once)."""
        if self._keys is None or not self._synced:
            keys = self.store.require_keys()
            if keys.user_id != self.user_id():
                raise ClientError("This keystore holds another user's keys.")
            self._generations = account.sync(self.api, self.store, keys)
            self._keys, self._synced = keys, True
        return self._keys

    @property
    def book(self) -> KeyBook:
        if self._book is None:
            self._book = KeyBook(self.api, self.store, self.keys())
        return self._book

    def epoch_keys(self) -> EpochKeys:
        return EpochKeys(self.keys(), self._generations)

    # -- threads -------------------------------------------------------------------------

    def thread(self, thread_id: str) -> ThreadView:
        """The thread, its signed log verified."""
        return load(self.api, self.book, thread_id)

    def metadata(self, view: ThreadView) -> dict[str, Any] | None:
        return decrypt_meta(view, self.epoch_keys())

    def threads(self, limit: int = 100) -> list[ThreadSummary]:
        out = []
        for row in self.api.get("/api/v1/threads", {"limit": limit}).get("threads", []):
            base = {"thread_id": row["id"], "unread": int(row.get("unread", 0)),
                    "unread_capped": bool(row.get("unread_capped")), "epoch": int(row.get("epoch", 0))}
            try:
                meta = self.metadata(self.thread(row["id"]))
            except ClientError as exc:
                out.append(ThreadSummary(title=None, topic=None, court_ref=None, warning=str(exc), **base))
                continue
            if meta is None:
                out.append(ThreadSummary(title=None, topic=None, court_ref=None,
                                         warning="The title cannot be decrypted.", **base))
            else:
                out.append(ThreadSummary(title=meta.get("title"), topic=meta.get("topic"),
                                         court_ref=meta.get("court_ref"), **base))
        return out

    def create_thread(self, *, title: str, topic: str, parties: Sequence[str], court_ref: str | None = None) -> str:
        """A new thread with every enrolled user of the parties (own party included); returns its
        id. Users left out (changed identity key, invalid key record) are in `last_skipped`."""
        created = thread_ops.create(self.api, self.book, title=title, topic=topic, parties=list(parties),
                                    court_ref=court_ref)
        self.last_skipped = created.skipped
        return created.thread_id

    def members(self, thread_id: str) -> tuple[list[Member], str]:
        """The members the verified log implies, and the thread safety code (§9)."""
        view = self.thread(thread_id)
        out, keyed = [], []
        for user_id, state in sorted(view.members().items()):
            keys = self.book.user(user_id)
            uik = keys.uik_pub if keys else b""
            fingerprint = fingerprints.group(fingerprints.user_fingerprint(user_bytes(user_id), uik)) if uik else "?"
            out.append(Member(user_id, self.book.name(user_id), state, fingerprint,
                              keys is not None and keys.changed_uik is None))
            keyed.append((user_bytes(user_id), uik))
        code = fingerprints.thread_safety_code(view.tid, view.state.head_hash, keyed)
        return out, fingerprints.group(code)

    def add_state(self, thread_id: str, party: str) -> ThreadView:
        return self._change(thread_id, "add_state", party=party.strip().upper())

    def remove_state(self, thread_id: str, party: str) -> ThreadView:
        return self._change(thread_id, "remove_state", party=party.strip().upper())

    def add_user(self, thread_id: str, user_id: int) -> ThreadView:
        return self._change(thread_id, "add_user", user_id=user_id)

    def remove_user(self, thread_id: str, user_id: int) -> ThreadView:
        return self._change(thread_id, "remove_user", user_id=user_id)

    def rotate(self, thread_id: str) -> ThreadView:
        return self._change(thread_id, "rotate")

    def _change(self, thread_id: str, kind: str, **target: Any) -> ThreadView:
        return thread_ops.change(self.api, self.book, self.epoch_keys(), self.thread, thread_id, kind, **target)

    # -- messages ------------------------------------------------------------------------

    def messages(self, thread_id: str, limit: int = 50, *, mark_read: bool = False) -> list[MessageItem]:
        """The latest `limit` messages, oldest first; bad ones come back as warning items."""
        view = self.thread(thread_id)
        items, _ = conversation.read(self.api, view, self.epoch_keys(), self.book, limit)
        if mark_read and items and items[-1].id:
            self.api.post(f"/api/v1/threads/{thread_id}/read", {"up_to": max(i.id or 0 for i in items)})
        return items

    def key_changes(self, view: ThreadView) -> list[int]:
        """Members whose identity key the server now shows differently from the pinned one."""
        out = []
        for user_id in sorted(view.members()):
            keys = self.book.user(user_id)
            if keys is not None and keys.changed_uik is not None:
                out.append(user_id)
        return out

    def open_envelope(self, view: ThreadView, envelope: bytes) -> MessageItem:
        """Verify and decrypt one envelope against an already loaded thread (no server call)."""
        return conversation.open_envelope(view, self.epoch_keys(), self.book, envelope)

    def post(self, thread_id: str, text: str, *, handling: str, attachments: Sequence[Path] = (),
             reply_to: str | None = None, part_size: int = files.DEFAULT_PART) -> str:
        """Upload the attachments (encrypted), then post the message; returns its msg_id."""
        conversation.body(text, handling, (), reply_to)  # refuse bad input before uploading anything
        view = self.thread(thread_id)  # membership and log checked before any upload
        if self.keys().user_bytes not in view.state.members:
            raise ClientError("You are not a member of this thread.")
        if thread_ops.stale_wraps(view, self.book):
            self.rotate(thread_id)
        refs = [files.upload(self.api, thread_id, Path(p), handling=handling, part_size=part_size)
                for p in attachments]
        content = conversation.body(text, handling, refs, reply_to)
        return conversation.post(self.api, self.book, self.epoch_keys(), self.thread, thread_id, content)

    def find_attachment(self, thread_id: str, attachment_id: str) -> AttachmentRef:
        """The attachment's reference from a verified message of the thread (newest first)."""
        view = self.thread(thread_id)
        before = None
        while True:
            items, before = conversation.read(self.api, view, self.epoch_keys(), self.book, 200, before)
            for item in reversed(items):
                for ref in item.attachments:
                    if ref.file_id == attachment_id:
                        return ref
            if before is None:
                raise ClientError("No verified message of this thread carries that attachment.")

    def download(self, thread_id: str, attachment_id: str, out: Path) -> Path:
        return files.download(self.api, thread_id, self.find_attachment(thread_id, attachment_id), Path(out))

    # -- approving a new browser or install of this user (PROTOCOL.md §8a) ---------------------

    def approval_requests(self) -> list[dict[str, Any]]:
        """Devices of this user waiting for approval, with the code this install derives."""
        return account.approval_requests(self.api, self.keys())

    def approve_device(self, request_id: str, typed_code: str) -> dict[str, Any]:
        """Give the account secrets to a waiting device, once the person has typed the code that
        device shows: a different code (substituted keys) approves nothing."""
        request = next((r for r in self.approval_requests() if r["request_id"] == request_id), None)
        if request is None:
            raise ClientError("No device of yours is waiting with that request id (it may have expired).")
        if request["status"] != "pending":
            raise ClientError("That device was already approved.")
        if "".join(ch for ch in typed_code if ch.isdigit()) != request["code"].replace(" ", ""):
            raise ClientError("That is not this request's verification code: nothing was approved. If the new "
                              "device shows another code, refuse the request.")
        account.approve_device(self.api, self.keys(), request)
        return request

    def refuse_device(self, request_id: str) -> None:
        if not re.fullmatch(r"[0-9a-f]{32}", request_id):
            raise ClientError("A request id is 32 lowercase hexadecimal characters.")
        try:
            self.api.post(f"/api/v1/keys/approvals/{request_id}/refuse", {})
        except ApiError as exc:
            if exc.status == 404:
                raise ClientError("No device of yours is waiting with that request id.") from None
            raise

    # -- identity keys of others ----------------------------------------------------------

    def safety_number(self, user_id: int) -> tuple[str, bool]:
        """The 60-digit number both users see for each other (§9), and whether the key the server
        shows now is the pinned one."""
        keys = self.keys()
        data = self.book.raw(user_id)
        uik = self.book.current_uik(data)
        pin = self.book.pins.get(user_id)
        pinned = pin is None or unb64url(pin["uik"]) == uik if user_id != keys.user_id else uik == keys.uik.public
        number = fingerprints.safety_number((keys.user_bytes, keys.uik.public), (user_bytes(user_id), uik))
        return fingerprints.group(number), pinned

    def trust(self, user_id: int) -> bool:
        """Accept the identity key the server shows now for this user (after comparing the
        safety number). True if the pin changed."""
        if user_id == self.keys().user_id:
            raise ClientError("Your own key is not pinned; nothing to trust.")
        uik = self.book.current_uik(self.book.raw(user_id))
        return self.book.pins.trust(user_id, uik)
