"""Command line: `flask --app cooperation <command>` or the `cooperation` console script."""

from __future__ import annotations

import sys

import click
from alembic import command as alembic_command
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from cooperation.migrations.alembic_config import alembic_config


def register_cli(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(plugins_cli)
    app.cli.add_command(seed_demo)
    app.cli.add_command(create_admin)
    app.cli.add_command(demo_code)
    app.cli.add_command(purge_expired)
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)


@click.group("db", help="Database schema migrations (Alembic).")
def db_cli() -> None:
    pass


@db_cli.command("upgrade", help="Upgrade the schema to the latest revision (take a backup first).")
@click.argument("revision", default="heads")
@with_appcontext
def db_upgrade(revision: str) -> None:
    alembic_command.upgrade(alembic_config(current_app), revision)
    from cooperation.audit.service import ensure_head
    from cooperation.extensions import db

    ensure_head(db.session)
    db.session.commit()
    click.echo("Database is at the latest revision.")


@db_cli.command("downgrade", help="Downgrade the schema to REVISION.")
@click.argument("revision")
@with_appcontext
def db_downgrade(revision: str) -> None:
    alembic_command.downgrade(alembic_config(current_app), revision)


@db_cli.command("current", help="Show the current revision(s).")
@with_appcontext
def db_current() -> None:
    alembic_command.current(alembic_config(current_app), verbose=False)


@db_cli.command("revision", help="Create a new revision from the model changes (developers).")
@click.option("-m", "--message", required=True)
@click.option("--head", default="core@head")
@click.option("--branch-label", default=None)
@click.option("--version-path", default=None)
@with_appcontext
def db_revision(message: str, head: str, branch_label: str | None, version_path: str | None) -> None:
    alembic_command.revision(alembic_config(current_app), message=message, autogenerate=True,
                             head=head, branch_label=branch_label, version_path=version_path)


@click.group("plugins", help="Installed and enabled plugins.")
def plugins_cli() -> None:
    pass


@plugins_cli.command("list", help="List installed plugins and whether each is enabled.")
@with_appcontext
def plugins_list() -> None:
    from cooperation.plugins import discover

    enabled = current_app.extensions["cooperation.plugins"].plugins
    for name in sorted(discover()):
        state = "enabled" if name in enabled else "installed, disabled"
        title = enabled[name].title if name in enabled else ""
        click.echo(f"{name:20} {state:20} {title}")


@click.command("seed-demo", help="Load demo States, organisations and accounts (never in production).")
@with_appcontext
def seed_demo() -> None:
    from cooperation.demo import seed

    if current_app.config["ENV_NAME"] == "production":
        raise click.ClickException("seed-demo refuses to run in production.")
    seed.run(echo=click.echo)


@click.command("create-admin", help="Create the first Secretariat administrator and mail an invitation.")
@click.option("--email", required=True)
@click.option("--name", "full_name", required=True)
@with_appcontext
def create_admin(email: str, full_name: str) -> None:
    from cooperation.accounts import services as accounts
    from cooperation.audit.service import Actor
    from cooperation.extensions import db

    try:
        link = accounts.bootstrap_admin(db.session, email=email, full_name=full_name,
                                        actor=Actor.system("cli:create-admin"))
        db.session.commit()
    except accounts.AccountError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Invitation sent to {email}. It can also be opened at:\n{link}")


@click.command("demo-code", help="Print the current authenticator code of a demo account.")
@click.argument("email")
@with_appcontext
def demo_code(email: str) -> None:
    from cooperation.demo import seed

    if current_app.config["ENV_NAME"] == "production":
        raise click.ClickException("demo-code refuses to run in production.")
    if email.strip().lower() not in {account[0] for account in seed.DEMO_ACCOUNTS}:
        raise click.ClickException("demo-code only prints codes of the demo accounts made by seed-demo")
    code = seed.current_code(email)
    if code is None:
        raise click.ClickException("no demo account with that e-mail")
    click.echo(code)


@click.command("purge-expired", help="Delete expired sessions, browser approval requests and old failed-login "
                                     "records (run from cron).")
@with_appcontext
def purge_expired() -> None:
    from datetime import timedelta

    from cooperation.db import utcnow
    from cooperation.extensions import db
    from cooperation.security import sessions, throttle

    idle = timedelta(minutes=current_app.config["SESSION_IDLE_MINUTES"])
    ended = sessions.purge_expired(db.session, idle)
    throttle.purge_older_than(db.session, utcnow() - timedelta(days=1))
    from cooperation.ops import ratelimit

    ratelimit.purge_older_than(db.session, utcnow() - timedelta(days=2))  # longest window: 1 day
    from cooperation.threads import approvals

    approvals.purge_expired(db.session)  # browsers' approval requests, sealed secrets with them
    db.session.commit()
    click.echo(f"Purged {ended} expired sessions.")


def _backup_target():  # type: ignore[no-untyped-def]
    from pathlib import Path

    from cooperation.extensions import db
    from cooperation.ops.backup import Target

    return Target(database_url=current_app.config["SQLALCHEMY_DATABASE_URI"],
                  instance_path=Path(current_app.instance_path),
                  metadata_tables=tuple(db.metadata.sorted_tables),
                  pg_bindir=current_app.config["COOPERATION_SETTINGS"].pg_bindir)


@click.command("backup", help="Write a backup (database and files, with checksums) to the new file DEST.")
@click.argument("dest", type=click.Path(dir_okay=False, writable=True))
@with_appcontext
def backup_command(dest: str) -> None:
    from pathlib import Path

    from cooperation.ops.backup import BackupError, backup

    try:
        backup(_backup_target(), Path(dest), echo=click.echo)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc


@click.command("restore", help="Restore the backup SRC into an EMPTY installation, then verify it.")
@click.argument("src", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def restore_command(src: str) -> None:
    from pathlib import Path

    from cooperation.audit.service import verify
    from cooperation.extensions import db
    from cooperation.ops.backup import BackupError, restore

    try:
        restore(_backup_target(), Path(src), echo=click.echo)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    db.engine.dispose()  # connections opened before the restore saw an empty schema
    problems = verify(db.session)
    if problems:
        for problem in problems:
            click.echo(f"TAMPERED: {problem}", err=True)
        raise SystemExit(1)
    click.echo("Audit chain intact.")


def main() -> None:
    """Console script `cooperation`: the same commands as `flask --app cooperation`."""
    from cooperation.app import create_app

    cli = FlaskGroup(create_app=lambda: create_app(), help="Secure Platform on Cooperation.")
    sys.exit(cli.main())
