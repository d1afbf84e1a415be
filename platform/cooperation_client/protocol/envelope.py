"""The TEK1 message envelope: structure only, no cryptography, so the server can import it.

    header = "TEK1" | u8 suite=1 | u8 type | thread_id[16] | u32 epoch | head_hash[32]
             | msg_id[16] | sender_user[16] | sender_device[16] | u64 client_ts_ms | nonce[12]
    stored = header(126) | ciphertext (padded body + 16-byte tag) | Ed25519 signature(64)

The clear header is what the server may index (thread, epoch, message id, sender, time); the
padded ciphertext length is a bucket (encoding.is_bucket), so the server learns only a size
class. `parse_header` and `split` check everything that can be checked without keys.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from .encoding import is_bucket
from .errors import ProtocolError

MAGIC = b"TEK1"
SUITE = 1
HEADER_LEN = 126
TAG_LEN = 16
SIG_LEN = 64
MESSAGE_TYPES = {1: "message", 2: "edit", 3: "redaction"}
LAYOUT = struct.Struct(">4sBB16sI32s16s16s16sQ12s")
if LAYOUT.size != HEADER_LEN:  # pragma: no cover - guards an edit of the layout
    raise RuntimeError("TEK1 header layout changed")


@dataclass(frozen=True)
class Header:
    type: int
    thread_id: bytes
    epoch: int
    head_hash: bytes
    msg_id: bytes
    sender_user: bytes
    sender_device: bytes
    client_ts_ms: int
    nonce: bytes
    suite: int = SUITE

    def encode(self) -> bytes:
        if (self.type not in MESSAGE_TYPES or not 1 <= self.epoch <= 0xFFFFFFFF
                or not 0 <= self.client_ts_ms < 1 << 64):
            raise ProtocolError("invalid header field")
        for value, size in ((self.thread_id, 16), (self.head_hash, 32), (self.msg_id, 16),
                            (self.sender_user, 16), (self.sender_device, 16), (self.nonce, 12)):
            if len(value) != size:
                raise ProtocolError("header field has the wrong length")
        return LAYOUT.pack(MAGIC, self.suite, self.type, self.thread_id, self.epoch, self.head_hash,
                            self.msg_id, self.sender_user, self.sender_device, self.client_ts_ms, self.nonce)


def parse_header(data: bytes) -> Header:
    """Validate and decode the first HEADER_LEN bytes (extra bytes after them are ignored)."""
    if len(data) < HEADER_LEN:
        raise ProtocolError("envelope shorter than its header")
    (magic, suite, msg_type, thread_id, epoch, head_hash, msg_id, sender_user, sender_device,
     ts, nonce) = LAYOUT.unpack_from(data)
    if magic != MAGIC:
        raise ProtocolError("not a TEK1 envelope")
    if suite != SUITE:
        raise ProtocolError("unsupported suite")
    if msg_type not in MESSAGE_TYPES:
        raise ProtocolError("unknown message type")
    if epoch < 1:
        raise ProtocolError("epoch must be at least 1")
    return Header(msg_type, thread_id, epoch, head_hash, msg_id, sender_user, sender_device, ts, nonce, suite)


@dataclass(frozen=True)
class Envelope:
    header: Header
    header_bytes: bytes
    ciphertext: bytes
    signature: bytes


def split(data: bytes) -> Envelope:
    """Split a stored envelope and check its sizes: the server's whole acceptance check short of
    verifying the signature (which it may also do with the sender's device key)."""
    header = parse_header(data)
    body_len = len(data) - HEADER_LEN - SIG_LEN
    if body_len < TAG_LEN or not is_bucket(body_len - TAG_LEN):
        raise ProtocolError("ciphertext length is not a padding bucket")
    return Envelope(header, bytes(data[:HEADER_LEN]), bytes(data[HEADER_LEN:-SIG_LEN]), bytes(data[-SIG_LEN:]))


def signed_bytes(header_bytes: bytes, ciphertext: bytes) -> bytes:
    """The message signature covers "TEK1/msg-sig" ‖ SHA-256(header ‖ ciphertext)."""
    return b"TEK1/msg-sig" + hashlib.sha256(header_bytes + ciphertext).digest()
