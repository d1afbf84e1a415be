"""Attachments (PROTOCOL.md §7, §12): TAF1-encrypted before upload, decrypted after download,
both streamed in bounded memory.

Upload: the file is encrypted once into an anonymous temporary file (ciphertext only), then sent
in parts (create, PUT parts with retries, check what the server received, complete), so a
dropped part is re-sent from the same bytes. Two parts travel at once: the server receives each
on its own worker, so a large file goes up faster than one part at a time. Download: decrypted
into a temporary file beside the target, checked against the size and TAF1 digest from the
signed message, and renamed into place only then; on any failure the partial output is deleted.
"""

from __future__ import annotations

import io
import mimetypes
import os
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import BinaryIO, cast

from cooperation_client.protocol import attachments
from cooperation_client.protocol import primitives as P
from cooperation_client.protocol.errors import ProtocolError

from .api import ApiClient
from .conversation import AttachmentRef
from .errors import ApiError, ClientError

LOG2_CHUNK = attachments.DEFAULT_LOG2
DEFAULT_PART = 8 << 20
MIN_PART = 64 << 10      # the server's smallest part size for multi-part uploads
BLOCK = 1 << 20
PART_ATTEMPTS = 3
PARTS_AT_ONCE = 2


def _part_body(fd: int, offset: int, length: int) -> Iterator[bytes]:
    """A part's bytes read from the ciphertext file in 1 MiB blocks."""
    done = 0
    while done < length:
        block = os.pread(fd, min(BLOCK, length - done), offset + done)
        if not block:
            raise ClientError("The temporary ciphertext file shrank during the upload.")
        done += len(block)
        yield block


def _put_part(api: ApiClient, base: str, fd: int, number: int, part_size: int, total: int) -> None:
    offset = number * part_size
    length = min(part_size, total - offset)
    for attempt in range(PART_ATTEMPTS):
        try:
            api.put_stream(f"{base}/parts/{number}", lambda: _part_body(fd, offset, length), length)
            return
        except ApiError as exc:
            if exc.status < 500 or attempt == PART_ATTEMPTS - 1:
                raise
        except ClientError:
            if attempt == PART_ATTEMPTS - 1:
                raise


def _put_parts(api: ApiClient, base: str, fd: int, numbers: Iterable[int], part_size: int, total: int) -> None:
    """PARTS_AT_ONCE parts in flight (os.pread: the threads share the file, not a position);
    the first failure stops the parts not yet started and is raised."""
    with ThreadPoolExecutor(PARTS_AT_ONCE, thread_name_prefix="cooperation-part") as pool:
        futures = [pool.submit(_put_part, api, base, fd, number, part_size, total) for number in numbers]
        try:
            for future in as_completed(futures):
                future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def upload(api: ApiClient, thread_id: str, path: Path, *, handling: str, part_size: int = DEFAULT_PART,
           name: str | None = None) -> AttachmentRef:
    """Encrypt `path` with a fresh file key and upload it; returns what the message body carries."""
    if part_size < MIN_PART:
        raise ClientError(f"The part size must be at least {MIN_PART} bytes.")
    try:
        source = open(path, "rb")  # closed by the with block below
    except OSError as exc:
        raise ClientError(f"Cannot read {path}: {exc.strerror}.") from None
    key = P.random_bytes(32)
    with source, tempfile.TemporaryFile(prefix="cooperation-upload-") as cipher:
        size = os.fstat(source.fileno()).st_size
        result = attachments.encrypt_stream(key, source, cipher, log2_chunk=LOG2_CHUNK)
        cipher.flush()
        if result.plaintext_size != size or result.ciphertext_size != attachments.ciphertext_size(size, LOG2_CHUNK):
            raise ClientError(f"{path} changed while it was being encrypted; try again.")
        total = result.ciphertext_size
        part = total if total <= part_size else part_size
        created = api.post(f"/api/v1/threads/{thread_id}/attachments", {"size": total, "part_size": part})
        base = f"/api/v1/threads/{thread_id}/attachments/{created['id']}"
        fd = cipher.fileno()
        _put_parts(api, base, fd, range(int(created["parts"])), part, total)
        received = set(api.get(base).get("received", []))
        # Resume what went missing.
        _put_parts(api, base, fd, sorted(set(range(int(created["parts"]))) - received), part, total)
        api.post(f"{base}/complete", {})
    label = name or path.name
    mime = mimetypes.guess_type(label)[0] or "application/octet-stream"
    return AttachmentRef(str(created["id"]), label, mime, size, result.digest, key, LOG2_CHUNK, handling)


class _IterReader(io.RawIOBase):
    """A file object over an iterator of byte chunks (what decrypt_stream reads from)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks, self.pending = chunks, b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self.pending:
            try:
                self.pending = next(self.chunks)
            except StopIteration:
                return 0
        count = min(len(buffer), len(self.pending))
        buffer[:count] = self.pending[:count]
        self.pending = self.pending[count:]
        return count


def safe_name(name: str) -> str:
    """A sender-chosen file name made harmless as a local file name."""
    cleaned = "".join(c for c in unicodedata.normalize("NFC", name) if c.isprintable() and c not in '/\\:')
    cleaned = cleaned.strip().lstrip(".")
    return cleaned[:200] or "attachment"


def download(api: ApiClient, thread_id: str, ref: AttachmentRef, out: Path) -> Path:
    """Download, decrypt and verify into `out` (a directory: the sender's name, made safe)."""
    target = out / safe_name(ref.name) if out.is_dir() else out
    if target.exists():
        raise ClientError(f"{target} already exists; choose another --out.")
    if not target.parent.is_dir():
        raise ClientError(f"The folder {target.parent} does not exist.")
    # Beside the target (same file system, so the final link is atomic); deleted on any failure.
    handle = tempfile.NamedTemporaryFile(dir=target.parent, prefix=".cooperation-", suffix=".part", delete=False)
    tmp = Path(handle.name)
    try:
        with handle:
            def consume(chunks: Iterator[bytes]) -> attachments.TafResult:
                return attachments.decrypt_stream(ref.key, io.BufferedReader(_IterReader(chunks), BLOCK),
                                                  cast(BinaryIO, handle))

            result = api.download(f"/api/v1/threads/{thread_id}/attachments/{ref.file_id}/content", consume)
            if not P.constant_time_equal(result.digest, ref.digest) or result.plaintext_size != ref.size:
                raise ClientError("The attachment does not match the signed message (altered or swapped); "
                                  "nothing was saved.")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, target)  # unlike a rename, never replaces a file that appeared meanwhile
        except FileExistsError:
            raise ClientError(f"{target} already exists; choose another --out.") from None
        tmp.unlink()
    except ProtocolError:
        tmp.unlink(missing_ok=True)
        raise ClientError("The attachment failed its integrity check (altered or truncated); nothing was saved.") \
            from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
