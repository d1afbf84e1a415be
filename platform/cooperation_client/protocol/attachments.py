"""TAF1: chunked AES-256-GCM for attachments, streamed between file objects in O(chunk) memory.

    header(16) = "TAF1" | u8 version=1 | u8 alg=1 (AES-256-GCM) | u8 log2_chunk | u8 0
                 | nonce_prefix[7] | u8 0
    chunk_i    = AES-256-GCM(file_key, prefix ‖ u32be(i) ‖ u8(final), plaintext_i, aad=header)

Every chunk but the last holds exactly 2^log2_chunk plaintext bytes; the last is non-empty
unless the file is empty (one empty final chunk). With that rule the encoding is unique, the
index stops reordering, the final flag stops truncation and extension, and the header AAD binds
the parameters. The file key is random per file and travels inside the signed message body,
with the ciphertext size and its TAF1 digest:

    digest = SHA-256("TAF1/digest" ‖ header ‖ SHA-256(chunk_0) ‖ … ‖ SHA-256(chunk_n))

a hash list rather than one SHA-256 over the file, because WebCrypto has no incremental hash and
the browser must stay within O(chunk) memory too.
"""

from __future__ import annotations

import hashlib
import io
import struct
from dataclasses import dataclass
from typing import BinaryIO

from . import primitives as P
from .errors import ProtocolError, VerificationError

MAGIC = b"TAF1"
HEADER_LEN = 16
TAG_LEN = 16
DEFAULT_LOG2 = 20            # 1 MiB: fast in both twins, matches resumable-upload parts
MIN_LOG2, MAX_LOG2 = 12, 24  # bounds the memory a hostile header can make a reader allocate
MAX_CHUNKS = 1 << 32


@dataclass(frozen=True)
class TafHeader:
    log2_chunk: int
    nonce_prefix: bytes

    @property
    def chunk_size(self) -> int:
        return 1 << self.log2_chunk

    def encode(self) -> bytes:
        return MAGIC + bytes([1, 1, self.log2_chunk, 0]) + self.nonce_prefix + b"\x00"


def parse_header(data: bytes) -> TafHeader:
    """Structure check of a TAF1 file's first 16 bytes (also usable by the server)."""
    if len(data) < HEADER_LEN or data[:4] != MAGIC:
        raise ProtocolError("not a TAF1 file")
    if data[4] != 1 or data[5] != 1 or data[7] != 0 or data[15] != 0:
        raise ProtocolError("unsupported TAF1 version or algorithm")
    if not MIN_LOG2 <= data[6] <= MAX_LOG2:
        raise ProtocolError("TAF1 chunk size out of range")
    return TafHeader(data[6], bytes(data[8:15]))


def ciphertext_size(plaintext_size: int, log2_chunk: int = DEFAULT_LOG2) -> int:
    """Exact TAF1 size for a plaintext size (lets the server check a declared upload size)."""
    chunks = max(1, -(-plaintext_size // (1 << log2_chunk)))
    return HEADER_LEN + plaintext_size + TAG_LEN * chunks


def _nonce(prefix: bytes, index: int, final: bool) -> bytes:
    if index >= MAX_CHUNKS:
        raise ProtocolError("too many chunks")
    return prefix + struct.pack(">IB", index, 1 if final else 0)


def _read_full(source: BinaryIO, size: int) -> bytes:
    """Read exactly `size` bytes unless the stream ends (raw streams may return short reads)."""
    first = source.read(size)
    if len(first) == size or not first:
        return first
    parts = [first]
    got = len(first)
    while got < size:
        more = source.read(size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


@dataclass(frozen=True)
class TafResult:
    plaintext_size: int
    ciphertext_size: int
    digest: bytes


class _Digest:
    """The TAF1 digest, accumulated chunk by chunk."""

    def __init__(self, header: bytes) -> None:
        self.sha = hashlib.sha256(b"TAF1/digest" + header)
        self.size = len(header)

    def add(self, chunk: bytes) -> None:
        self.sha.update(hashlib.sha256(chunk).digest())
        self.size += len(chunk)


def digest_stream(source: BinaryIO) -> TafResult:
    """Size and digest of a TAF1 file without the key (plaintext_size from the chunk layout):
    lets the server check an upload against what the sender declared."""
    header_bytes = _read_full(source, HEADER_LEN)
    header = parse_header(header_bytes)
    digest, chunks = _Digest(header_bytes), 0
    while chunk := _read_full(source, header.chunk_size + TAG_LEN):
        if len(chunk) < TAG_LEN:
            raise ProtocolError("TAF1 chunk shorter than its tag")
        digest.add(chunk)
        chunks += 1
    if chunks == 0:
        raise ProtocolError("TAF1 file without chunks")
    return TafResult(digest.size - HEADER_LEN - TAG_LEN * chunks, digest.size, digest.sha.digest())


def encrypt_stream(key: bytes, source: BinaryIO, target: BinaryIO, *, log2_chunk: int = DEFAULT_LOG2,
                   nonce_prefix: bytes | None = None) -> TafResult:
    """Encrypt `source` into `target` holding at most two chunks in memory (one look-ahead read
    decides the final flag without knowing the size in advance). `nonce_prefix`: vectors only."""
    header = TafHeader(log2_chunk, nonce_prefix or P.random_bytes(7))
    header_bytes = header.encode()
    parse_header(header_bytes)
    if len(header.nonce_prefix) != 7:
        raise ProtocolError("nonce prefix must be 7 bytes")
    ct_hash, plain_size = _Digest(header_bytes), 0
    target.write(header_bytes)
    current, index = _read_full(source, header.chunk_size), 0
    while True:
        following = _read_full(source, header.chunk_size) if len(current) == header.chunk_size else b""
        final = not following
        chunk = P.aes_gcm_encrypt(key, _nonce(header.nonce_prefix, index, final), current, header_bytes)
        target.write(chunk)
        ct_hash.add(chunk)
        plain_size += len(current)
        if final:
            return TafResult(plain_size, ct_hash.size, ct_hash.sha.digest())
        current, index = following, index + 1


def decrypt_stream(key: bytes, source: BinaryIO, target: BinaryIO) -> TafResult:
    """Decrypt and authenticate chunk by chunk. Plaintext of a chunk is written only after that
    chunk authenticated, but a later failure leaves a partial `target`: callers must write to a
    temporary file and discard it when this raises."""
    header_bytes = _read_full(source, HEADER_LEN)
    header = parse_header(header_bytes)
    ct_hash = _Digest(header_bytes)
    full = header.chunk_size + TAG_LEN
    current, index, plain_size = _read_full(source, full), 0, 0
    while True:
        following = _read_full(source, full) if len(current) == full else b""
        final = not following
        if len(current) < TAG_LEN or (final and index > 0 and len(current) == TAG_LEN):
            raise VerificationError("TAF1 file truncated")
        plaintext = P.aes_gcm_decrypt(key, _nonce(header.nonce_prefix, index, final), current, header_bytes)
        target.write(plaintext)
        ct_hash.add(current)
        plain_size += len(plaintext)
        if final:
            return TafResult(plain_size, ct_hash.size, ct_hash.sha.digest())
        current, index = following, index + 1


def encrypt_bytes(key: bytes, data: bytes, **options: object) -> bytes:
    """Convenience for small files and vectors."""
    out = io.BytesIO()
    encrypt_stream(key, io.BytesIO(data), out, **options)  # type: ignore[arg-type]
    return out.getvalue()


def decrypt_bytes(key: bytes, blob: bytes) -> bytes:
    out = io.BytesIO()
    decrypt_stream(key, io.BytesIO(blob), out)
    return out.getvalue()
