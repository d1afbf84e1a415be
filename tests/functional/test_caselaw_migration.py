"""Revision 0002_caselaw: builds exactly the models' case-law tables and the backend's full-text
index on each database, search works on the migrated schema, and downgrade removes it all."""

from __future__ import annotations

import os
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from cooperation import create_app
from cooperation.caselaw import search
from cooperation.extensions import db
from cooperation.migrations.alembic_config import alembic_config, include_object


def _fresh_database_url(backend: str, tmp_path: Path, request: Any) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'caselaw-migrated.sqlite3'}"
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return request.getfixturevalue("postgres").create_database(f"clmig_{worker}_{uuid.uuid4().hex[:8]}")


def _mentions_caselaw(diff: Any) -> bool:
    return "caselaw" in repr(diff) or "fts_" in repr(diff)


def _search_objects(conn: Any) -> set[str]:
    if conn.dialect.name == "postgresql":
        rows = conn.execute(text("SELECT tablename FROM pg_tables WHERE tablename LIKE 'fts_%' "
                                 "UNION SELECT indexname FROM pg_indexes WHERE indexname LIKE '%fts_%'"))
    else:
        rows = conn.execute(text("SELECT name FROM sqlite_master WHERE name LIKE 'fts_caselaw%'"))
    return {r[0] for r in rows}


def test_caselaw_revision_upgrades_and_downgrades(backend, settings, tmp_path, request):
    app = create_app(replace(settings, database_url=_fresh_database_url(backend, tmp_path, request),
                             enabled_plugins=()))
    config = alembic_config(app)
    try:
        command.upgrade(config, "0002_caselaw")
        with app.app_context():
            tables = set(inspect(db.engine).get_table_names())
            assert {"caselaw_item", "caselaw_version", "caselaw_version_topic", "caselaw_version_article",
                    "caselaw_version_related", "caselaw_reader_state", "caselaw_feed_token"} <= tables
            with db.engine.connect() as conn:
                found = _search_objects(conn)
                assert search.FTS_TABLE in found
                if conn.dialect.name == "postgresql":
                    assert f"ix_{search.FTS_TABLE}_document" in found
                context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                                 "include_object": include_object})
                diffs = compare_metadata(context, db.metadata)
            assert [d for d in diffs if _mentions_caselaw(d)] == []
            # The migrated index answers queries (no rows yet, but the SQL is valid).
            from cooperation.db import utcnow

            assert search.search(db.session, search.SearchQuery(text="freezing"), utcnow()).total == 0
            db.session.remove()
        command.downgrade(config, "0001_core")
        with app.app_context():
            tables = set(inspect(db.engine).get_table_names())
            assert not {t for t in tables if t.startswith(("caselaw_", "fts_"))}
            assert "party" in tables and "user_account" in tables
            with db.engine.connect() as conn:
                assert _search_objects(conn) == set()
    finally:
        with app.app_context():
            db.engine.dispose()


def _document_storage(conn: Any) -> tuple[str, str]:
    row = conn.execute(text(
        "SELECT attstorage, attcompression FROM pg_attribute "
        "WHERE attrelid = CAST(:t AS regclass) AND attname = 'document'"), {"t": search.FTS_TABLE}).one()
    return str(row[0]), str(row[1])


def test_search_storage_revision(backend, settings, tmp_path, request):
    """0005_caselaw_search: on PostgreSQL the tsvector moves into the row (STORAGE MAIN, lz4) and
    back on downgrade; on SQLite it changes nothing. Search works at every step."""
    from cooperation.db import utcnow

    app = create_app(replace(settings, database_url=_fresh_database_url(backend, tmp_path, request),
                             enabled_plugins=()))
    config = alembic_config(app)
    try:
        command.upgrade(config, "0004_threads")
        with app.app_context():
            if backend == "postgresql":
                with db.engine.begin() as conn:  # as databases made before this revision were
                    conn.execute(text(f"ALTER TABLE {search.FTS_TABLE} ALTER COLUMN document SET STORAGE EXTENDED"))
                    conn.execute(text(f"ALTER TABLE {search.FTS_TABLE} ALTER COLUMN document SET COMPRESSION DEFAULT"))
            db.engine.dispose()
        command.upgrade(config, "0005_caselaw_search")
        with app.app_context():
            if backend == "postgresql":
                with db.engine.connect() as conn:
                    assert _document_storage(conn) == ("m", "l")
            assert search.search(db.session, search.SearchQuery(text="freezing"), utcnow()).total == 0
            db.session.remove()
            db.engine.dispose()
        command.downgrade(config, "0004_threads")
        with app.app_context():
            if backend == "postgresql":
                with db.engine.connect() as conn:
                    assert _document_storage(conn) == ("x", "")
            db.engine.dispose()
    finally:
        with app.app_context():
            db.engine.dispose()
