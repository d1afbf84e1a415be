"""Alembic: on a fresh database per test, the migrations build exactly the schema of the models
(core and plugin tables), and every revision upgrades and downgrades with data in the tables.

Written against whatever revisions exist, so it stays valid when the core migration is
regenerated or plugins add theirs."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from flask import Flask
from sqlalchemy import func, inspect, select

from cooperation import create_app
from cooperation.config import Settings
from cooperation.extensions import db
from cooperation.migrations.alembic_config import UNMANAGED_TABLE_PREFIX, alembic_config, include_object


@pytest.fixture
def fresh_app(backend: str, settings: Settings, tmp_path, request: pytest.FixtureRequest) -> Iterator[Flask]:
    """An application on a brand-new, empty database of the backend."""
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres").create_database(f"mig_{uuid.uuid4().hex[:12]}")
    app = create_app(replace(settings, database_url=url))
    with app.app_context():
        assert inspect(db.engine).get_table_names() == []
        yield app
        db.session.remove()
        db.engine.dispose()


def _revisions(app: Flask) -> list[Script]:
    """Every revision, bases first (dependencies before dependants)."""
    script = ScriptDirectory.from_config(alembic_config(app))
    return list(reversed(list(script.walk_revisions("base", "heads"))))


def _diffs(app: Flask) -> list[object]:
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True,
                                                         "include_object": include_object})
        return list(compare_metadata(context, db.metadata))


def _app_tables() -> set[str]:
    """Tables the models describe (full-text index tables are made by hand, see alembic_config)."""
    db.engine.dispose()
    return {t for t in inspect(db.engine).get_table_names()
            if t != "alembic_version" and not t.startswith(UNMANAGED_TABLE_PREFIX)}


def _down_target(revision: Script) -> str:
    if revision.down_revision is None:
        label = sorted(revision.branch_labels)[0] if revision.branch_labels else None
        return f"{label}@base" if label else "base"
    down = revision.down_revision
    return down if isinstance(down, str) else down[0]


def _seed(app: Flask) -> None:
    """Some data in every kind of table: parties, users, invitations, sessions, audit, plugins."""
    from cooperation.audit.service import Actor, ensure_head, record
    from cooperation.membership import services as membership
    from cooperation.permissions import Role
    from cooperation.security import recovery
    from tests.factories import make_user
    from tests.security.world import Objects

    ensure_head(db.session)
    membership.ensure_organisations(db.session)
    membership.import_states(db.session)
    db.session.flush()
    user = make_user("NLD", Role.STATE_FOCAL_POINT, "focal@nl.test")
    recovery.replace_codes(db.session, user.id)
    record(db.session, "test.seed", Actor.system("test"), details={"n": 1})
    objects = Objects(app)
    objects.invitation("SEN")
    objects.web_session(user.id)
    objects.credential(user.id)
    # Every plugin table gets a row too.
    for mapper in db.Model.registry.mappers:
        table = mapper.local_table.name
        plugin_prefixes = tuple(f"{name}_" for name in app.extensions["cooperation.plugins"].plugins)
        if table.startswith(plugin_prefixes):
            objects.generic_row(table.split("_", 1)[1].split("_")[0], "NLD", user.id)
    db.session.commit()


def test_migrations_build_exactly_the_models(fresh_app):
    command.upgrade(alembic_config(fresh_app), "heads")
    assert _app_tables() == set(db.metadata.tables), "tables of the models and of the migrations differ"
    assert _diffs(fresh_app) == []


def test_one_head_per_branch(fresh_app):
    script = ScriptDirectory.from_config(alembic_config(fresh_app))
    expected = {"core", "questionnaires", "oauth"} | {
        name for name, plugin in fresh_app.extensions["cooperation.plugins"].plugins.items()
        if (plugin.migrations_dir / "versions").is_dir()}
    branch_of_head = []
    for head in script.get_heads():
        # Follow down_revision (not depends_on) to the root: its label names the branch.
        rev = script.get_revision(head)
        while rev.down_revision is not None:
            down = rev.down_revision
            rev = script.get_revision(down if isinstance(down, str) else down[0])
        assert rev.branch_labels, f"root {rev.revision} has no branch label"
        branch_of_head.append(sorted(rev.branch_labels)[0])
    assert sorted(branch_of_head) == sorted(set(branch_of_head)), f"several heads in one branch: {branch_of_head}"
    assert set(branch_of_head) == expected


def test_every_revision_upgrades_and_downgrades_with_data(fresh_app):
    config = alembic_config(fresh_app)
    revisions = _revisions(fresh_app)
    assert revisions, "no migrations found"
    # Up, one revision at a time.
    for revision in revisions:
        command.upgrade(config, revision.revision)
    assert _app_tables() == set(db.metadata.tables)
    _seed(fresh_app)
    seeded_users = db.session.scalar(select(func.count()).select_from(db.metadata.tables["user_account"]))
    db.session.commit()
    assert seeded_users == 1

    # Down, one revision at a time, newest first, with the data in place; each step is also
    # re-applied over the data left below it and taken down again.
    for revision in reversed(revisions):
        target = _down_target(revision)
        db.session.remove()
        command.downgrade(config, target)
        command.upgrade(config, revision.revision)
        command.downgrade(config, target)
    assert _app_tables() == set()

    # And up again to the head: the same schema as the models.
    command.upgrade(config, "heads")
    assert _app_tables() == set(db.metadata.tables)
    assert _diffs(fresh_app) == []


def test_cli_upgrade_creates_the_audit_head(fresh_app):
    from cooperation.audit.models import AuditHead

    result = fresh_app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert db.session.get(AuditHead, 1) is not None
