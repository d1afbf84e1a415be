"""Byte-level helpers shared by every format: fixed-width big-endian integers, base64, ids,
domain-separation labels and the padding rule. Pure Python, no cryptography."""

from __future__ import annotations

import base64
import binascii
import struct

from .errors import ProtocolError

ID_LEN = 16


def u8(value: int) -> bytes:
    return struct.pack(">B", value)


def u16(value: int) -> bytes:
    return struct.pack(">H", value)


def u32(value: int) -> bytes:
    return struct.pack(">I", value)


def u64(value: int) -> bytes:
    return struct.pack(">Q", value)


def label(text: str) -> bytes:
    """An ASCII domain-separation label: every signed or hashed input starts with one, so a
    signature or hash made for one purpose can never be replayed as another."""
    return text.encode("ascii")


def lp(data: bytes) -> bytes:
    """A length-prefixed (u16) field, for variable-length values inside hash inputs."""
    if len(data) > 0xFFFF:
        raise ProtocolError("field too long")
    return u16(len(data)) + data


def check_id(value: bytes, what: str = "id") -> bytes:
    """Protocol ids (threads, users, devices, messages, files) are opaque 16-byte values."""
    if not isinstance(value, bytes | bytearray) or len(value) != ID_LEN:
        raise ProtocolError(f"{what} must be {ID_LEN} bytes")
    return bytes(value)


def b64e(data: bytes) -> str:
    """Standard base64 with padding (what JSON documents carry)."""
    return base64.b64encode(data).decode("ascii")


def b64d(text: str, length: int | None = None) -> bytes:
    """Strict base64 decoding: rejects junk characters and, if given, the wrong length."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, AttributeError) as exc:
        raise ProtocolError("invalid base64") from exc
    if length is not None and len(data) != length:
        raise ProtocolError(f"expected {length} bytes, got {len(data)}")
    return data


def hexd(text: str, length: int) -> bytes:
    """Lowercase hex of exactly `length` bytes (how ids appear in signed JSON)."""
    if not isinstance(text, str) or len(text) != 2 * length or text != text.lower():
        raise ProtocolError("invalid hex id")
    try:
        data = bytes.fromhex(text)
    except ValueError as exc:
        raise ProtocolError("invalid hex id") from exc
    if len(data) != length:  # fromhex skips spaces: "00 11 ..." must not pass
        raise ProtocolError("invalid hex id")
    return data


# -- padding -------------------------------------------------------------------------------

SMALL_STEP = 256          # below 4 KiB, pad to a multiple of 256 bytes
SMALL_LIMIT = 4096        # from 4 KiB on, pad to the next power of two
MAX_PADDED = 1 << 20      # a message body (without attachments) never exceeds 1 MiB


def padded_length(length: int) -> int:
    """The bucket for `length` bytes plus the mandatory 0x80 marker. Buckets hide exact sizes
    from the server while keeping small messages small."""
    need = length + 1
    if need <= SMALL_LIMIT:
        return max(SMALL_STEP, -(-need // SMALL_STEP) * SMALL_STEP)
    bucket = SMALL_LIMIT
    while bucket < need:
        bucket <<= 1
    if bucket > MAX_PADDED:
        raise ProtocolError("message body too large")
    return bucket


def is_bucket(size: int) -> bool:
    """True if `size` is a padded length the rule can produce (the server checks this)."""
    if size <= SMALL_LIMIT:
        return size >= SMALL_STEP and size % SMALL_STEP == 0
    return size <= MAX_PADDED and size & (size - 1) == 0


def pad(data: bytes) -> bytes:
    """ISO/IEC 7816-4 padding (0x80 then zeros) up to the bucket."""
    return data + b"\x80" + b"\x00" * (padded_length(len(data)) - len(data) - 1)


def unpad(data: bytes) -> bytes:
    """Strict inverse of `pad`: the bucket size and every padding byte are checked."""
    if not is_bucket(len(data)):
        raise ProtocolError("padded body has an invalid size")
    end = data.rfind(b"\x80")
    if end < 0 or any(data[end + 1:]):
        raise ProtocolError("invalid padding")
    if padded_length(end) != len(data):
        raise ProtocolError("padding longer than its bucket")
    return data[:end]
