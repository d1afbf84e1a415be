"""Documents of agreements, stored like the questionnaires' uploads (cooperation/questionnaires/
files.py): PDF, DOCX or ODT up to 10 MiB, checked by extension AND by content (magic bytes, the
ZIP members of DOCX/ODT), written under the instance path with a server-generated name (no user
input reaches the path), served only as an attachment under a sandboxing CSP. A link to a
published text (e.g. the ICC's or the UN Treaty Collection's copy) must be an https URL.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _

from cooperation.questionnaires.files import FileRefused, content_matches, read_limited, safe_name

MAX_BYTES = 10 * 1024 * 1024
STORAGE_FOLDER = "agreements_files"

CONTENT_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "odt": "application/vnd.oasis.opendocument.text",
}


class DocumentRefused(ValueError):
    """The upload or the link is refused; the message says why and what is accepted."""


@dataclass(frozen=True)
class CheckedFile:
    data: bytes
    original_name: str
    content_type: str
    sha256: str


def storage_dir() -> Path:
    path = Path(current_app.instance_path) / STORAGE_FOLDER
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _read_limited(stream: IO[bytes]) -> bytes:
    """At most MAX_BYTES, read as the questionnaires read answers' files; with our own message."""
    try:
        return read_limited(stream, MAX_BYTES)
    except FileRefused:  # read_limited refuses only a file over the limit
        raise DocumentRefused(_("The file is larger than 10 MiB. Upload a smaller copy, or add a "
                                "link to the published text.")) from None


def check(stream: IO[bytes], filename: str) -> CheckedFile:
    name = safe_name(filename)
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if extension not in CONTENT_TYPES:
        raise DocumentRefused(_("Only PDF, DOCX or ODT documents are accepted."))
    data = _read_limited(stream)
    if not data:
        raise DocumentRefused(_("The file is empty."))
    if not content_matches(extension, data):  # extension already limited to PDF, DOCX, ODT
        raise DocumentRefused(_("The file's content is not a valid %(kind)s document. Only PDF, DOCX or "
                                "ODT documents are accepted.", kind=extension.upper()))
    return CheckedFile(data, name, CONTENT_TYPES[extension], hashlib.sha256(data).hexdigest())


def check_link(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or parts.username or parts.password or len(url) > 500:
        raise DocumentRefused(_("Enter an https:// address of at most 500 characters, e.g. "
                                "https://www.icc-cpi.int/..."))
    return url


def store(checked: CheckedFile) -> str:
    """Write the bytes under a random name; returns the name."""
    stored_name = secrets.token_hex(24)
    path = storage_dir() / stored_name
    with open(path, "xb") as handle:
        handle.write(checked.data)
    path.chmod(0o600)
    return stored_name


def path_of(stored_name: str) -> Path:
    if not stored_name or not stored_name.isalnum():
        raise FileNotFoundError(stored_name)
    return storage_dir() / stored_name


def discard(stored_name: str) -> None:
    """Remove a stored file (after its row was deleted, or when the row was rolled back)."""
    try:
        path_of(stored_name).unlink()
    except FileNotFoundError:
        pass
