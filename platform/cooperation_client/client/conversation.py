"""Reading and posting messages (PROTOCOL.md §5, §12).

A message is shown only after its signature verified with the sender's certified device key,
the sender was a member of the message's epoch according to the verified log, and it decrypted
and unpadded; any failure becomes a warning item, never content.

Every header names the log head its sender saw (epoch, head_hash). A head the verified log lacks
makes `read` fetch the log again (the sender may be ahead); a head still unknown then flags the
message (`unknown_head`, PROTOCOL.md §6): its sender saw a history this client was not given.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cooperation_client.protocol import events, messages
from cooperation_client.protocol import primitives as P
from cooperation_client.protocol.encoding import hexd
from cooperation_client.protocol.envelope import parse_header, split
from cooperation_client.protocol.errors import ProtocolError, VerificationError

from .api import ApiClient, b64url, unb64url
from .directory import KeyBook, user_int
from .errors import ApiError, ClientError, NoEpochKey
from .thread_log import EpochKeys, ThreadView, refresh

HANDLING = ("participants-only", "national-authorities", "no-evidential-use", "court-only")
MAX_TEXT = 200_000
ATTEMPTS = 4
UNKNOWN_HEAD = ("The sender saw a history of this thread that you were not given: the server may be withholding "
                "events, or showing participants different histories. Compare the thread safety code (members) "
                "with the sender by phone or in person.")
UNKNOWN_HEAD_HIDDEN = ("This message was signed by the sender after changes to the thread that you were not given, "
                       "so it cannot be decrypted here; not shown. ")
# C0/C1 controls but tab and newline, and the bidirectional overrides that can disguise a name.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """Neutralise terminal control characters in decrypted text (escape-sequence injection)."""
    return _CONTROL.sub("\N{REPLACEMENT CHARACTER}", text)


@dataclass(frozen=True)
class AttachmentRef:
    """An attachment as the signed message body describes it (§12)."""

    file_id: str
    name: str
    mime: str
    size: int
    digest: bytes
    key: bytes
    chunk_log2: int
    handling: str

    def to_body(self) -> dict[str, Any]:
        # Ids in hex, other binary values in standard base64 (PROTOCOL.md §2), as the browser.
        return {"file_id": self.file_id, "name": self.name, "mime": self.mime, "size": self.size,
                "digest": self.digest.hex(), "key": self.key.hex(), "chunk_log2": self.chunk_log2,
                "handling": self.handling}

    @classmethod
    def from_body(cls, data: Any) -> AttachmentRef:
        if not isinstance(data, dict):
            raise ProtocolError("attachment entry is not an object")
        size, log2 = data.get("size"), data.get("chunk_log2")
        name, mime = data.get("name"), data.get("mime")
        if type(size) is not int or size < 0 or type(log2) is not int or not 12 <= log2 <= 24:
            raise ProtocolError("attachment size or chunk size invalid")
        if not isinstance(name, str) or not isinstance(mime, str):
            raise ProtocolError("attachment name or type invalid")
        handling = data.get("handling")
        return cls(hexd(data.get("file_id", ""), 16).hex(), name, mime, size, _bytes32(data.get("digest")),
                   _bytes32(data.get("key")), log2, handling if isinstance(handling, str) else "")


def _bytes32(value: Any) -> bytes:
    """64 lowercase hex digits (PROTOCOL.md §12, as in the message vectors), nothing else."""
    if not isinstance(value, str):
        raise ProtocolError("attachment digest or key missing")
    return hexd(value, 32)


@dataclass
class MessageItem:
    """One message as shown: either verified content, or a warning and no content."""

    msg_id: str
    sender_id: int
    sender_name: str
    epoch: int
    sent_ms: int
    id: int | None = None                       # the server's row id (ordering, read marker)
    created_at: str | None = None               # the server's receipt time
    text: str | None = None
    handling: str | None = None
    reply_to: str | None = None
    attachments: list[AttachmentRef] = field(default_factory=list)
    warning: str | None = None
    # The header names a log head (epoch, head_hash) the verified log lacks, even after fetching it
    # again: the sender saw a history this client was not given (PROTOCOL.md §6). Set only for a
    # message signed by a certified device of its sender. With content (ok) when it also verified
    # and decrypted under this log; else with `warning`.
    unknown_head: bool = False

    @property
    def ok(self) -> bool:
        return self.warning is None


def _body(body: dict[str, Any]) -> tuple[str, str | None, str | None, list[AttachmentRef]]:
    text, handling, reply_to = body.get("text"), body.get("handling"), body.get("reply_to")
    if body.get("v") != 1 or not isinstance(text, str):
        raise ProtocolError("message body without text")
    if reply_to is not None:  # an earlier message's msg_id (§12); readers still check it names one
        try:
            hexd(reply_to, 16)
        except ProtocolError as exc:
            raise ProtocolError("reply_to invalid") from exc
    raw = body.get("attachments") or []
    if not isinstance(raw, list):
        raise ProtocolError("attachments is not a list")
    return text, handling if isinstance(handling, str) else None, reply_to, [AttachmentRef.from_body(a) for a in raw]


def open_envelope(view: ThreadView, keys: EpochKeys, book: KeyBook, raw: bytes,
                  row: dict[str, Any] | None = None) -> MessageItem:
    """Verify then decrypt one stored envelope, and check the head its sender saw against the
    verified log (no server call: `read` fetches the log again first); never raises."""
    item = _open(view, keys, book, raw, row or {})
    if _head_known(view, raw):
        return item
    if item.ok:
        item.unknown_head = True  # shown: signed, a member's in this log, decrypted with its key
    elif _signed_by_sender(book, raw):
        item.unknown_head, item.warning = True, UNKNOWN_HEAD_HIDDEN + UNKNOWN_HEAD
    return item


def _head_known(view: ThreadView, raw: bytes) -> bool:
    """Whether the header names a head of the verified log (a malformed header, or another
    thread's, counts as known: those are refused for what they are)."""
    try:
        header = parse_header(raw)
    except ProtocolError:
        return True
    return header.thread_id != view.tid or events.knows_head(view.state, header.head_hash, header.epoch)


def _signed_by_sender(book: KeyBook, raw: bytes) -> bool:
    """Signed by a certified device of the user the header names (a message this client cannot
    open otherwise): evidence only the sender could make, never the server."""
    try:
        header = parse_header(raw)
        sender = book.user(user_int(header.sender_user))
        device = sender.devices.get(header.sender_device) if sender is not None else None
        if device is None:
            return False
        messages.verify(raw, device.sig_pub)
    except (ProtocolError, ClientError):  # a failed lookup (ApiError) included
        return False
    return True


def _open(view: ThreadView, keys: EpochKeys, book: KeyBook, raw: bytes, row: dict[str, Any]) -> MessageItem:
    try:
        header = split(raw).header
    except ProtocolError as exc:
        return MessageItem(str(row.get("msg_id", "")), int(row.get("sender_id") or 0), "?", int(row.get("epoch") or 0),
                           0, row.get("id"), row.get("created_at"), warning=f"Malformed message ({exc}); not shown.")
    sender = user_int(header.sender_user)
    item = MessageItem(header.msg_id.hex(), sender, book.name(sender), header.epoch, header.client_ts_ms,
                       row.get("id"), row.get("created_at"))
    if header.thread_id != view.tid:
        item.warning = "This message belongs to another thread; not shown."
        return item
    if header.epoch not in view.state.wraps:
        item.warning = str(NoEpochKey(header.epoch))
        return item
    if header.sender_user not in view.state.wraps[header.epoch]:
        item.warning = f"The sender was not a member in epoch {header.epoch}; not shown."
        return item
    sig_pub = view.directory.devices.get((header.sender_user, header.sender_device))
    if sig_pub is None:
        item.warning = "Sent from a device the sender never certified; not shown."
        return item
    try:
        _, body = messages.open_(raw, sender_sig_pub=sig_pub, epoch_key=lambda h: keys.key(view, h.epoch))
        item.text, item.handling, item.reply_to, item.attachments = _body(body)
    except NoEpochKey as exc:
        item.warning = str(exc)
    except VerificationError:
        item.warning = "This message failed its signature or integrity check (altered?); not shown."
    except ProtocolError as exc:
        item.warning = f"This message is malformed ({exc}); not shown."
    return item


def read(api: ApiClient, view: ThreadView, keys: EpochKeys, book: KeyBook, limit: int = 50,
         before: int | None = None) -> tuple[list[MessageItem], int | None]:
    """The latest `limit` messages (oldest first) and the cursor for the page before them."""
    params: dict[str, Any] = {"limit": limit}
    if before is not None:
        params["before"] = before
    page = api.get(f"/api/v1/threads/{view.thread_id}/messages", params)
    rows = [(unb64url(row["envelope"], "envelope"), row) for row in page.get("messages", [])]
    if not all(_head_known(view, raw) for raw, _ in rows):
        refresh(api, book, view)  # the sender may be ahead: verify the newer log, then check again
    items = [open_envelope(view, keys, book, raw, row) for raw, row in rows]
    items.reverse()
    return items, page.get("next_before")


def body(text: str, handling: str, attachments: Sequence[AttachmentRef] = (), reply_to: str | None = None
         ) -> dict[str, Any]:
    if handling not in HANDLING:
        raise ClientError(f"The handling code must be one of: {', '.join(HANDLING)}.")
    if not text.strip() and not attachments:
        raise ClientError("The message is empty.")
    if len(text) > MAX_TEXT:
        raise ClientError("The message is too long.")
    if reply_to is not None:
        try:
            hexd(reply_to, 16)
        except ProtocolError as exc:
            raise ClientError("The message replied to must be given by its id: 32 lowercase hex digits.") from exc
    return {"v": 1, "text": text, "reply_to": reply_to, "handling": handling,
            "attachments": [a.to_body() for a in attachments]}


def post(api: ApiClient, book: KeyBook, keys: EpochKeys, load: Callable[[str], ThreadView], thread_id: str,
         content: dict[str, Any]) -> str:
    """Seal and post; on 409 (a new epoch or head) reload the log and seal again under the same
    msg_id, which keeps a retry after a lost answer idempotent."""
    me = book.me
    msg_id = P.random_bytes(16)
    for _ in range(ATTEMPTS):
        view = load(thread_id)
        state = view.state
        if me.user_bytes not in state.members:
            raise ClientError("You are not a member of this thread.")
        for user in sorted(state.members):
            book.require_unchanged(user_int(user))  # KeyChanged: nothing is sent until accepted
        stale = sorted(user_int(u) for u in events.members_needing_rotation(state, view.directory))
        if stale:
            raise ClientError(f"Member(s) {', '.join(map(str, stale))} no longer have valid keys: a member must "
                              "rotate them out (remove-user) before anyone sends.")
        raw = messages.seal(content, epoch_key=keys.key(view, state.epoch), device=me.device, thread_id=view.tid,
                            epoch=state.epoch, head_hash=state.head_hash, msg_id=msg_id, sender_user=me.user_bytes,
                            client_ts_ms=int(time.time() * 1000))
        try:
            api.post(f"/api/v1/threads/{thread_id}/messages", {"envelope": b64url(raw), "msg_id": msg_id.hex()})
        except ApiError as exc:
            if exc.status == 409 and "epoch" in exc.body:
                continue  # the thread moved to a new epoch meanwhile
            raise
        return msg_id.hex()
    raise ClientError("The thread kept changing while posting; try again.")
