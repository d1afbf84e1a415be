"""Backup and restore of one installation: the database and the files under the instance path.

A backup is one tar file:
  manifest.json        format, time, backend, schema revision, audit head, the SHA-256 and size
                       of every other member, and a digest of every table (row count + SHA-256)
  database.sqlite3     SQLite, copied with its online backup API (never a file copy: a copy of
                       a live database misses what is still in the -wal file, or is torn)
  database.pgdump      PostgreSQL, `pg_dump -Fc` taken on an exported snapshot, the same
                       snapshot the table digests are computed on
  files/...            uploaded documents and other files under the instance path

Restore refuses anything but an empty installation (no table in the database, no data file
under the instance path), checks every checksum BEFORE writing anything, restores, and then
recomputes the table digests and compares them with the manifest. The CLI then verifies the
audit chain. Point-in-time recovery is PostgreSQL's own business (WAL archiving): see
deploy/README.md.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, inspect, select, text
from sqlalchemy.engine import make_url

FORMAT = "cooperation-backup/1"
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite3"
PG_MEMBER = "database.pgdump"
FILES_PREFIX = "files/"
# Under the instance path but not data: the development secret (configuration, not content),
# and transient files.
_NOT_DATA = {"secret_key"}
_NOT_DATA_SUFFIXES = (".tmp", ".partial")
CHUNK = 1024 * 1024


class BackupError(RuntimeError):
    """The backup or restore cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class Target:
    """What to back up or restore into, independent of Flask (tests and CLI share it)."""

    database_url: str
    instance_path: Path
    metadata_tables: tuple[Any, ...]  # sqlalchemy Table objects, dependency order
    pg_bindir: str = ""


# -- table digests ----------------------------------------------------------------------------

def table_digests(conn: Connection, tables: tuple[Any, ...]) -> dict[str, dict[str, object]]:
    """Per table: row count and SHA-256 over its rows in primary-key order."""
    present = set(inspect(conn).get_table_names())
    out: dict[str, dict[str, object]] = {}
    for table in tables:
        if table.name not in present:
            continue
        digest = hashlib.sha256()
        count = 0
        order = list(table.primary_key.columns) or list(table.columns)
        for row in conn.execute(select(table).order_by(*order)).yield_per(2000):
            digest.update(json.dumps([_plain(v) for v in row], default=str).encode("utf-8"))
            digest.update(b"\n")
            count += 1
        out[table.name] = {"rows": count, "sha256": digest.hexdigest()}
    if "alembic_version" in present:
        versions = sorted(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
        out["alembic_version"] = {"rows": len(versions),
                                  "sha256": hashlib.sha256("\n".join(versions).encode()).hexdigest()}
    return out


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, (bytes, memoryview)):
        return hashlib.sha256(bytes(value)).hexdigest()
    return value


# -- backup -----------------------------------------------------------------------------------

def backup(target: Target, dest: Path, *, echo: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    dest = dest.resolve()
    if dest.exists():
        raise BackupError(f"{dest} already exists; choose a new file name")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".coop-backup-", dir=dest.parent) as tmp:
        work = Path(tmp)
        if _is_sqlite(target.database_url):
            member, digests, audit = _dump_sqlite(target, work / SQLITE_MEMBER)
        else:
            member, digests, audit = _dump_postgres(target, work / PG_MEMBER)
        echo(f"Database dumped ({member}).")
        files = list(_data_files(target, exclude=dest))
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "backend": "sqlite" if _is_sqlite(target.database_url) else "postgresql",
            "database": {"member": member, **_checksum(work / member)},
            "tables": digests,
            "audit_head": audit,
            "files": [],
        }
        partial = dest.with_name(dest.name + ".partial")
        with tarfile.open(partial, "w") as tar:
            tar.add(work / member, arcname=member, recursive=False)
            for path, relative in files:
                entry = {"path": relative, **_checksum(path)}
                manifest["files"].append(entry)
                tar.add(path, arcname=FILES_PREFIX + relative, recursive=False)
            blob = json.dumps(manifest, indent=2, sort_keys=True).encode("utf-8")
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(blob)
            info.mtime = int(datetime.now(UTC).timestamp())
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(blob))
        os.chmod(partial, 0o600)
        with open(partial, "rb") as fh:
            os.fsync(fh.fileno())
        partial.rename(dest)  # a backup either exists whole or not at all
    echo(f"Backup written to {dest}: {len(manifest['files'])} files, "
         f"{sum(t['rows'] for t in digests.values())} rows, audit head {audit['seq']}.")
    return manifest


def _is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sqlite_path(url: str) -> Path:
    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _audit_head(conn: Connection) -> dict[str, object]:
    if "audit_head" not in inspect(conn).get_table_names():
        return {"seq": 0, "tip_hash": ""}
    row = conn.execute(text("SELECT seq, tip_hash FROM audit_head WHERE id = 1")).one_or_none()
    return {"seq": int(row[0]), "tip_hash": row[1]} if row else {"seq": 0, "tip_hash": ""}


def _dump_sqlite(target: Target, out: Path) -> tuple[str, dict[str, dict[str, object]], dict[str, object]]:
    source_path = _sqlite_path(target.database_url)
    if not source_path.exists():
        raise BackupError(f"the SQLite database {source_path} does not exist")
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    copy = sqlite3.connect(out)
    try:
        source.backup(copy, pages=4096)  # consistent even while other processes write
    finally:
        copy.close()
        source.close()
    digests, audit = _describe(f"sqlite:///{out}", target.metadata_tables)
    check = sqlite3.connect(out)
    try:
        if check.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError("the copy of the SQLite database failed its integrity check")
    finally:
        check.close()
    return SQLITE_MEMBER, digests, audit


def _describe(url: str, tables: tuple[Any, ...]) -> tuple[dict[str, dict[str, object]], dict[str, object]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return table_digests(conn, tables), _audit_head(conn)
    finally:
        engine.dispose()


def pg_bindir(configured: str = "") -> Path:
    if configured:
        return Path(configured)
    base = Path("/usr/lib/postgresql")
    versions = sorted((p for p in base.glob("*/bin") if (p / "pg_dump").exists()),
                      key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    if versions:
        return versions[-1]
    found = shutil.which("pg_dump")
    if found:
        return Path(found).parent
    raise BackupError("pg_dump was not found: install PostgreSQL's client tools or set PG_BINDIR")


def libpq(url: str) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and the environment that carries it
    (never on a command line, where `ps` shows it)."""
    parsed = make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _dump_postgres(target: Target, out: Path) -> tuple[str, dict[str, dict[str, object]], dict[str, object]]:
    engine = create_engine(target.database_url)
    dsn, env = libpq(target.database_url)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            # One snapshot for the dump and the digests: what the manifest describes is
            # exactly what the dump holds, even with the platform running.
            snapshot = conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
            result = subprocess.run(
                [str(pg_bindir(target.pg_bindir) / "pg_dump"), "--format=custom", "--no-owner",
                 "--no-privileges", f"--snapshot={snapshot}", f"--file={out}", f"--dbname={dsn}"],
                env=env, capture_output=True, text=True, timeout=6 * 3600, check=False)
            if result.returncode != 0:
                raise BackupError(f"pg_dump failed: {result.stderr.strip()[-2000:]}")
            digests = table_digests(conn, target.metadata_tables)
            audit = _audit_head(conn)
            conn.rollback()
    finally:
        engine.dispose()
    return PG_MEMBER, digests, audit


def _data_files(target: Target, exclude: Path) -> Iterator[tuple[Path, str]]:
    root = target.instance_path.resolve()
    if not root.is_dir():
        return
    skip = {exclude.resolve()}
    if _is_sqlite(target.database_url):
        db_path = _sqlite_path(target.database_url).resolve()
        skip |= {db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm"), Path(f"{db_path}-journal")}
    for path in sorted(root.rglob("*")):
        if path.is_symlink() or not path.is_file() or path.resolve() in skip:
            continue
        relative = path.relative_to(root).as_posix()
        if relative in _NOT_DATA or relative.endswith(_NOT_DATA_SUFFIXES) or relative.startswith(".coop-"):
            continue
        yield path, relative


def _checksum(path: Path) -> dict[str, object]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return {"sha256": digest.hexdigest(), "size": size}


# -- restore ----------------------------------------------------------------------------------

def read_manifest(tar: tarfile.TarFile) -> dict[str, Any]:
    try:
        member = tar.getmember(MANIFEST)
    except KeyError as exc:
        raise BackupError("this file is not a backup of the platform (no manifest.json)") from exc
    extracted = tar.extractfile(member)
    if extracted is None:
        raise BackupError("manifest.json is not a regular file")
    manifest = json.loads(extracted.read().decode("utf-8"))
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r} (expected {FORMAT})")
    return dict(manifest)


def check_empty(target: Target) -> None:
    """Restore never overwrites: the database has no table and the instance holds no data."""
    if _is_sqlite(target.database_url):
        path = _sqlite_path(target.database_url)
        if path.exists() and path.stat().st_size > 0:
            with sqlite3.connect(path) as conn:
                tables = conn.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
            if tables:
                raise BackupError(f"the database {path} is not empty ({len(tables)} tables): restore only "
                                  "into a new installation (move the old database away first)")
    else:
        engine = create_engine(target.database_url)
        try:
            with engine.connect() as conn:
                names = inspect(conn).get_table_names()
        finally:
            engine.dispose()
        if names:
            raise BackupError(f"the database is not empty ({len(names)} tables): restore only into a "
                              "new, empty database (createdb), before any `db upgrade`")
    leftover = [rel for _, rel in _data_files(target, exclude=Path("/nonexistent"))]
    if leftover:
        raise BackupError(f"the instance path {target.instance_path} already holds {len(leftover)} data "
                          f"files (e.g. {leftover[0]}): restore only into a new installation")


def _safe_member_name(name: str) -> str:
    parts = Path(name).parts
    if Path(name).is_absolute() or ".." in parts or not parts:
        raise BackupError(f"the backup holds an unsafe path: {name!r}")
    return name


def _verify_members(tar: tarfile.TarFile, manifest: dict[str, Any]) -> None:
    expected = {manifest["database"]["member"]: manifest["database"]}
    for entry in manifest["files"]:
        expected[FILES_PREFIX + _safe_member_name(entry["path"])] = entry
    for name, entry in expected.items():
        try:
            member = tar.getmember(name)
        except KeyError as exc:
            raise BackupError(f"the backup is incomplete: {name} is missing") from exc
        if not member.isfile():
            raise BackupError(f"{name} is not a regular file in the backup")
        fh = tar.extractfile(member)
        assert fh is not None
        digest = hashlib.sha256()
        size = 0
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
        if digest.hexdigest() != entry["sha256"] or size != entry["size"]:
            raise BackupError(f"{name} does not match its checksum: the backup is damaged")


def restore(target: Target, src: Path, *, echo: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    with tarfile.open(src, "r") as tar:
        manifest = read_manifest(tar)
        backend = "sqlite" if _is_sqlite(target.database_url) else "postgresql"
        if manifest["backend"] != backend:
            raise BackupError(f"this is a {manifest['backend']} backup; DATABASE_URL points at {backend}")
        check_empty(target)
        _verify_members(tar, manifest)
        echo("Checksums verified.")
        with tempfile.TemporaryDirectory(prefix=".coop-restore-") as tmp:
            dump = Path(tmp) / manifest["database"]["member"]
            _extract(tar, manifest["database"]["member"], dump)
            if backend == "sqlite":
                _restore_sqlite(target, dump)
            else:
                _restore_postgres(target, dump)
        echo("Database restored.")
        root = target.instance_path
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        for entry in manifest["files"]:
            out = root / _safe_member_name(entry["path"])
            out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            _extract(tar, FILES_PREFIX + entry["path"], out)
        echo(f"{len(manifest['files'])} files restored.")
    digests, audit = _describe_target(target)
    if digests != manifest["tables"]:
        differing = sorted(k for k in set(digests) | set(manifest["tables"])
                           if digests.get(k) != manifest["tables"].get(k))
        raise BackupError(f"the restored tables differ from the backup: {', '.join(differing)}")
    if audit != manifest["audit_head"]:
        raise BackupError("the restored audit head differs from the backup's")
    echo(f"Restored content matches the backup: {len(digests)} tables, audit head {audit['seq']}.")
    return manifest


def _extract(tar: tarfile.TarFile, name: str, out: Path) -> None:
    fh = tar.extractfile(name)
    assert fh is not None
    with open(out, "wb") as dest:
        os.chmod(out, 0o600)
        shutil.copyfileobj(fh, dest, CHUNK)
        dest.flush()
        os.fsync(dest.fileno())


def _restore_sqlite(target: Target, dump: Path) -> None:
    path = _sqlite_path(target.database_url)
    path.parent.mkdir(parents=True, exist_ok=True)
    source = sqlite3.connect(dump)
    dest = sqlite3.connect(path)
    try:
        source.backup(dest)
        dest.execute("PRAGMA journal_mode=WAL")
        if dest.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError("the restored SQLite database failed its integrity check")
    finally:
        dest.close()
        source.close()


def _restore_postgres(target: Target, dump: Path) -> None:
    dsn, env = libpq(target.database_url)
    result = subprocess.run(
        [str(pg_bindir(target.pg_bindir) / "pg_restore"), "--exit-on-error", "--single-transaction",
         "--no-owner", "--no-privileges", f"--dbname={dsn}", str(dump)],
        env=env, capture_output=True, text=True, timeout=6 * 3600, check=False)
    if result.returncode != 0:
        raise BackupError(f"pg_restore failed (nothing was restored): {result.stderr.strip()[-2000:]}")


def _describe_target(target: Target) -> tuple[dict[str, dict[str, object]], dict[str, object]]:
    return _describe(target.database_url, target.metadata_tables)
