"""A full disk under the SQLite database (FLT-05): users get a clear error page without a stack
trace, nothing is corrupted, and the platform works again once the ballast file is removed.

The database sits on a small tmpfs mounted by the test (root only). A ballast file, as the
runbook prescribes (deploy/README.md "Disk space"), reserves room that can be freed at once:
deleting rows does not free space on a full disk (SQLite needs room in its WAL to delete).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.conftest import skip_unless_ci
from tests.mailbox import Mailbox
from tests.ops.conftest import Account, Browser, prepare_schema
from tests.ops.stack import VENV_BIN, AppInstance, free_port

pytestmark = [pytest.mark.ops, pytest.mark.xdist_group("ops")]

BALLAST_BYTES = 512 * 1024


@pytest.fixture
def small_disk() -> Iterator[Path]:
    if os.geteuid() != 0:
        skip_unless_ci("mounting a tmpfs needs root; run the ops tests as root (CI does)")
    mountpoint = Path(tempfile.mkdtemp(prefix="coop-full-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m,mode=0700", "tmpfs", str(mountpoint)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        skip_unless_ci(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)
        mountpoint.rmdir()


def free_bytes(path: Path) -> int:
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def test_full_disk_fails_cleanly_and_recovers_when_the_ballast_is_removed(
        small_disk: Path, mailbox: Mailbox, tmp_path: Path) -> None:
    instance = small_disk / "instance"
    database = instance / "cooperation.sqlite3"
    env = {"COOPERATION_ENV": "testing", "SECRET_KEY": "disk-full-secret-" + "d" * 40,
           "DATABASE_URL": f"sqlite:///{database}", "COOPERATION_INSTANCE_PATH": str(instance),
           "MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(mailbox.port),
           "LOG_FORMAT": "json"}
    account = Account("focal-full@ops.test", "", "NLD")
    prepare_schema(env, {"nld": account})
    ballast = small_disk / "ballast"
    ballast.write_bytes(os.urandom(BALLAST_BYTES))  # incompressible, really allocated

    def scalar(sql: str, **params: object) -> object:
        engine = create_engine(f"sqlite:///{database}")
        try:
            with engine.connect() as conn:
                return conn.execute(text(sql), params).scalar()
        finally:
            engine.dispose()

    app = AppInstance(free_port(), env, tmp_path, workers=1).start()
    browser = Browser(f"http://127.0.0.1:{app.port}", False, scalar)
    try:
        browser.login(account)
        # The disk fills up (something else grows): leave ~64 KiB.
        filler = small_disk / "filler"
        filler.write_bytes(b"\0" * max(free_bytes(small_disk) - 64 * 1024, 0))
        page = "/directory/states/NLD/contacts/new"
        acknowledged, failure = [], None
        for _ in range(400):
            authority = f"Full {uuid.uuid4().hex}"
            response = browser.form_post(page, page, {
                "topic": "general_cooperation", "authority": authority,
                "email": "desk@ministry.example", "notes": "n" * 1900, "secure_channel": "s" * 1900})
            if response.status_code == 302:
                acknowledged.append(authority)
                continue
            failure = response
            break
        assert failure is not None, "the disk never filled up"
        assert failure.status_code == 500
        body = failure.text
        assert "Something went wrong on our side" in body
        for leak in ("Traceback", "sqlite3", "OperationalError", "INSERT", "disk is full", str(small_disk)):
            assert leak not in body
        assert app.proc is not None and app.proc.poll() is None  # still serving

        # Nothing is corrupted, and every acknowledged write is there with its audit entry.
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = scalar("SELECT count(*) FROM directory_contact_point WHERE authority LIKE 'Full %'")
        assert stored == len(acknowledged)
        audited = scalar("SELECT count(*) FROM audit_event WHERE action = 'directory.contact.create'")
        assert audited == len(acknowledged)

        # Recovery: the operator removes the ballast; the platform works again, unrestarted.
        ballast.unlink()
        response = browser.form_post(page, page, {"topic": "general_cooperation", "authority": "Full after",
                                                  "email": "desk@ministry.example"})
        assert response.status_code == 302, response.text[:300]
        assert browser.get("/readyz").status_code == 200
        verify = subprocess.run([str(VENV_BIN / "flask"), "--app", "cooperation", "audit", "verify"],
                                env={**os.environ, **env}, capture_output=True, text=True, timeout=120,
                                check=False)
        assert verify.returncode == 0, verify.stderr
        assert app.starts == 1
    finally:
        browser.close()
        app.stop()
