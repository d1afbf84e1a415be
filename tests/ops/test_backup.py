"""Backup, wipe, restore (BR-01, BR-02): `flask backup DEST` then `flask restore SRC` into a new,
empty installation gives identical content (per-table row counts and SHA-256, files byte for
byte) and an intact audit chain, on SQLite and PostgreSQL. Restore refuses a non-empty
installation, a damaged backup and a file that is not a backup, and then changes nothing."""

from __future__ import annotations

import tarfile
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from cooperation import create_app
from cooperation.audit.service import Actor, record
from cooperation.config import Settings
from cooperation.extensions import db
from cooperation.ops.backup import FILES_PREFIX, table_digests

pytestmark = [pytest.mark.ops, pytest.mark.xdist_group("ops")]


def run(app, *args: str):  # type: ignore[no-untyped-def]
    """The CLI of `app` (its own application context: the test runs inside the source's)."""
    with app.app_context():
        return app.test_cli_runner().invoke(args=list(args))


def _digests(url: str) -> dict[str, dict[str, object]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return table_digests(conn, tuple(db.metadata.sorted_tables))
    finally:
        engine.dispose()


@pytest.fixture
def empty_target(backend: str, settings: Settings, tmp_path: Path, request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """A new installation: an empty database and an empty instance path."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'restored' / 'cooperation.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres").create_database(f"restore_{uuid.uuid4().hex[:10]}")
    target = create_app(replace(settings, database_url=url, instance_path=str(tmp_path / "restored")))
    yield target
    with target.app_context():
        db.engine.dispose()


@pytest.fixture
def populated(app, users, client, auth):  # type: ignore[no-untyped-def]
    """Users, audit entries through real requests, contact points and an uploaded file."""
    auth.login(users["focal_nl"])
    page = "/directory/states/NLD/contacts/new"
    for i in range(3):
        response = client.post(page, data={"topic": "asset_tracing_freezing", "authority": f"Backup {i}",
                                           "email": "desk@ministry.example", "csrf_token": auth.csrf(page)})
        assert response.status_code == 302
    for i in range(20):
        record(db.session, "ops.backup.test", Actor.system("test"), details={"i": i, "text": "é ünïcode"})
    db.session.commit()
    files = Path(app.instance_path) / "questionnaire_files"
    files.mkdir(parents=True, exist_ok=True)
    (files / "a1b2c3.pdf").write_bytes(b"%PDF-1.4 " + bytes(range(256)) * 50)
    (Path(app.instance_path) / "secret_key").write_text("not data")  # configuration, never backed up
    return app


def test_backup_wipe_restore_gives_identical_content(populated, empty_target, tmp_path) -> None:
    source_url = populated.config["SQLALCHEMY_DATABASE_URI"]
    before = _digests(source_url)
    assert before["audit_event"]["rows"] >= 24 and before["directory_contact_point"]["rows"] == 3

    archive = tmp_path / "backup.tar"
    result = run(populated, "backup", str(archive))
    assert result.exit_code == 0, result.output
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert FILES_PREFIX + "questionnaire_files/a1b2c3.pdf" in names
    assert not any(name.endswith("secret_key") for name in names)
    assert archive.stat().st_mode & 0o077 == 0

    target = empty_target
    result = run(target, "restore", str(archive))
    assert result.exit_code == 0, result.output
    assert "Audit chain intact" in result.output and "Checksums verified" in result.output

    assert _digests(target.config["SQLALCHEMY_DATABASE_URI"]) == before
    restored_file = Path(target.instance_path) / "questionnaire_files" / "a1b2c3.pdf"
    original_file = Path(populated.instance_path) / "questionnaire_files" / "a1b2c3.pdf"
    assert restored_file.read_bytes() == original_file.read_bytes()
    verify = run(target, "audit", "verify")
    assert verify.exit_code == 0 and "intact" in verify.output

    # A second restore into the now non-empty installation is refused and changes nothing.
    again = run(target, "restore", str(archive))
    assert again.exit_code != 0 and "not empty" in again.output
    assert _digests(target.config["SQLALCHEMY_DATABASE_URI"]) == before


def test_restore_refuses_a_damaged_backup_before_writing_anything(populated, empty_target, tmp_path) -> None:
    archive = tmp_path / "backup.tar"
    assert run(populated, "backup", str(archive)).exit_code == 0
    # Flip one byte inside the uploaded file's data in the archive.
    data = bytearray(archive.read_bytes())
    marker = data.find(b"%PDF-1.4 ")
    assert marker > 0
    data[marker + 20] ^= 0xFF
    damaged = tmp_path / "damaged.tar"
    damaged.write_bytes(bytes(data))

    target = empty_target
    result = run(target, "restore", str(damaged))
    assert result.exit_code != 0 and "checksum" in result.output
    engine = create_engine(target.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with engine.connect() as conn:
            assert inspect(conn).get_table_names() == []
    finally:
        engine.dispose()
    assert not (Path(target.instance_path) / "questionnaire_files").exists()


def test_backup_refuses_to_overwrite_and_restore_refuses_a_foreign_file(populated, tmp_path) -> None:
    archive = tmp_path / "backup.tar"
    archive.write_text("existing")  # a previous backup must never be overwritten
    result = run(populated, "backup", str(archive))
    assert result.exit_code != 0 and "already exists" in result.output
    assert archive.read_text() == "existing"

    not_a_backup = tmp_path / "other.tar"
    with tarfile.open(not_a_backup, "w") as tar:
        tar.add(archive, arcname="something.txt")
    result = run(populated, "restore", str(not_a_backup))
    assert result.exit_code != 0 and "not a backup" in result.output
