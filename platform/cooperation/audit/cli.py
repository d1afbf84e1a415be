"""`audit verify`: walk the chain and name any modified, deleted or reordered entry."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from cooperation.audit.service import verify
from cooperation.extensions import db


@click.group("audit", help="The hash-chained audit log.")
def audit_cli() -> None:
    pass


@audit_cli.command("verify", help="Verify the audit chain; exit status 1 if it was tampered with.")
@with_appcontext
def audit_verify() -> None:
    problems = verify(db.session)
    if problems:
        for problem in problems:
            click.echo(f"TAMPERED: {problem}", err=True)
        raise SystemExit(1)
    from sqlalchemy import func, select

    from cooperation.audit.models import AuditEvent

    count = db.session.scalar(select(func.count()).select_from(AuditEvent)) or 0
    click.echo(f"Audit chain intact: {count} entries verified.")
