"""The directory's Alembic branch: picked up from the plugin's folder, builds exactly the
models' schema on each backend, and comes off again on downgrade without touching the core."""

from __future__ import annotations

import os
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from cooperation import create_app
from cooperation.extensions import db
from cooperation.migrations.alembic_config import alembic_config


def _fresh_database_url(backend: str, tmp_path: Path, request: Any) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'migrated.sqlite3'}"
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return request.getfixturevalue("postgres").create_database(f"dirmig_{worker}_{uuid.uuid4().hex[:8]}")


def _tables_in(diff: Any) -> set[str]:
    """Table names a compare_metadata() entry is about (entries are tuples or lists of them)."""
    if isinstance(diff, list):
        return set().union(*(_tables_in(d) for d in diff))
    names = set()
    for part in diff:
        if isinstance(part, str) and part.startswith("directory_"):
            names.add(part)
        table = getattr(part, "table", None)
        name = getattr(part, "name", None) if hasattr(part, "columns") and table is None else None
        if name:
            names.add(name)
        if table is not None and getattr(table, "name", None):
            names.add(table.name)
    return names


def test_directory_branch_upgrades_and_downgrades(backend, settings, tmp_path, request):
    app = create_app(replace(settings, database_url=_fresh_database_url(backend, tmp_path, request)))
    config = alembic_config(app)
    assert "0001_directory" in ScriptDirectory.from_config(config).get_heads()
    try:
        command.upgrade(config, "heads")
        with app.app_context():
            assert "directory_contact_point" in inspect(db.engine).get_table_names()
            with db.engine.connect() as conn:
                diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                         db.metadata)
            assert [d for d in diffs if any(t.startswith("directory_") for t in _tables_in(d))] == []
        command.downgrade(config, "directory@base")
        with app.app_context():
            tables = inspect(db.engine).get_table_names()
            assert "directory_contact_point" not in tables and "party" in tables
    finally:
        with app.app_context():
            db.engine.dispose()


def test_disabled_plugin_brings_no_migrations(make_app):
    heads = ScriptDirectory.from_config(alembic_config(make_app(enabled_plugins=()))).get_heads()
    assert "0001_directory" not in heads and heads
