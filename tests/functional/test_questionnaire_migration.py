"""The questionnaires' Alembic branch builds exactly the models' tables on each backend and
comes off again on downgrade without touching the core."""

from __future__ import annotations

import os
import uuid
from dataclasses import replace
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from cooperation import create_app
from cooperation.extensions import db
from cooperation.migrations.alembic_config import alembic_config


def _url(backend: str, tmp_path: Any, request: Any) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'questionnaires.sqlite3'}"
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return request.getfixturevalue("postgres").create_database(f"qmig_{worker}_{uuid.uuid4().hex[:8]}")


def _mentions_questionnaire_table(diff: Any) -> bool:
    return "questionnaire_" in repr(diff)


def test_questionnaire_branch_upgrades_and_downgrades(backend, settings, tmp_path, request):
    app = create_app(replace(settings, database_url=_url(backend, tmp_path, request)))
    config = alembic_config(app)
    script = ScriptDirectory.from_config(config)
    assert "0001_questionnaires" in script.get_heads()
    assert script.get_revision("0001_questionnaires").dependencies == "0001_core"
    try:
        command.upgrade(config, "heads")
        with app.app_context():
            tables = set(inspect(db.engine).get_table_names())
            mine = {t.name for t in db.metadata.sorted_tables if t.name.startswith("questionnaire_")}
            assert mine and mine <= tables
            with db.engine.connect() as conn:
                diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
            assert [d for d in diffs if _mentions_questionnaire_table(d)] == []
        command.downgrade(config, "questionnaires@base")
        with app.app_context():
            tables = set(inspect(db.engine).get_table_names())
            assert not {t for t in tables if t.startswith("questionnaire_")} and "party" in tables
        command.upgrade(config, "heads")  # and up again
    finally:
        with app.app_context():
            db.engine.dispose()
