"""Uploaded documents: PDF, DOCX, ODT or plain text up to 20 MiB, checked by extension AND by
content (magic bytes, the ZIP members of DOCX/ODT, UTF-8 text), stored under the instance path
with a server-generated name, served only as an attachment."""

from __future__ import annotations

import hashlib
import io
import secrets
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from flask import current_app
from flask_babel import gettext as _

MAX_BYTES = 20 * 1024 * 1024
CHUNK = 64 * 1024

CONTENT_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "odt": "application/vnd.oasis.opendocument.text",
    "txt": "text/plain; charset=utf-8",
}


class FileRefused(ValueError):
    """The upload is refused; the message says why and what is accepted."""


@dataclass(frozen=True)
class CheckedFile:
    data: bytes
    original_name: str
    extension: str
    content_type: str
    sha256: str


def storage_dir() -> Path:
    path = Path(current_app.instance_path) / "questionnaire_files"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def safe_name(name: str) -> str:
    """A display name without path parts or control characters (it goes into a header)."""
    name = unicodedata.normalize("NFC", name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if c.isprintable() and c not in '"<>|:*?')
    return name.strip().strip(".")[:200] or "document"


def read_limited(stream: IO[bytes], limit: int = MAX_BYTES) -> bytes:
    """Read at most limit bytes; one byte more means too large (never the whole stream)."""
    buffer = io.BytesIO()
    while True:
        chunk = stream.read(CHUNK)
        if not chunk:
            break
        buffer.write(chunk)
        if buffer.tell() > limit:
            raise FileRefused(_("The file is larger than 20 MiB. Upload a smaller copy, or a link "
                                "to the text in a text answer."))
    return buffer.getvalue()


def check(stream: IO[bytes], filename: str) -> CheckedFile:
    name = safe_name(filename)
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in CONTENT_TYPES:
        raise FileRefused(_("Only PDF, DOCX, ODT or TXT documents are accepted."))
    data = read_limited(stream)
    if not data:
        raise FileRefused(_("The file is empty."))
    if not content_matches(extension, data):
        raise FileRefused(_("The file's content is not a valid %(kind)s document. Only PDF, DOCX, "
                            "ODT or TXT documents are accepted.", kind=extension.upper()))
    return CheckedFile(data, name, extension, CONTENT_TYPES[extension], hashlib.sha256(data).hexdigest())


def content_matches(extension: str, data: bytes) -> bool:
    """Whether the bytes are what the extension says (magic bytes, ZIP members); shared with the
    agreements plugin's documents."""
    if extension == "pdf":
        return data[:5] == b"%PDF-"
    if extension == "txt":
        if b"\x00" in data:
            return False
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return False
        return True
    if data[:4] != b"PK\x03\x04":
        return False
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            if extension == "docx":
                return "word/document.xml" in names and "[Content_Types].xml" in names
            # ODF: the first member is an uncompressed "mimetype" naming the format.
            return "mimetype" in names and archive.read("mimetype").strip() == \
                b"application/vnd.oasis.opendocument.text"
    except (zipfile.BadZipFile, KeyError, OSError, RuntimeError):
        return False


def store(checked: CheckedFile) -> str:
    """Write the bytes under a random name; returns the name (no user input reaches the path)."""
    stored_name = secrets.token_hex(24)
    path = storage_dir() / stored_name
    with open(path, "xb") as handle:
        handle.write(checked.data)
    path.chmod(0o600)
    return stored_name


def path_of(stored_name: str) -> Path:
    if not stored_name.isalnum():
        raise FileNotFoundError(stored_name)
    return storage_dir() / stored_name


def discard(stored_name: str) -> None:
    """Remove a file whose database row was rolled back."""
    try:
        path_of(stored_name).unlink()
    except FileNotFoundError:
        pass
