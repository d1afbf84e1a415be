"""`flask --app cooperation questionnaires send-reminders`: run from cron (e.g. daily)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from cooperation.audit.service import Actor
from cooperation.db import utcnow
from cooperation.extensions import db
from cooperation.questionnaires import reminders


@click.group("questionnaires", help="Questionnaires: reminders to States.")
def questionnaires_cli() -> None:
    pass


@questionnaires_cli.command("send-reminders",
                            help="Mail the States that have not submitted, where a reminder is due.")
@with_appcontext
def send_reminders() -> None:
    actor = Actor.system("cli:questionnaires-send-reminders")
    now = utcnow()
    sent_states = sent_mails = 0
    # A request context gives url_for the configured SERVER_NAME and scheme for the links.
    with current_app.test_request_context():
        for item in reminders.due(db.session, now):
            mails = reminders.remind(db.session, item, now, actor)
            db.session.commit()  # one State at a time: a later failure keeps earlier records
            if mails:
                sent_states += 1
                sent_mails += mails
    click.echo(f"Reminders sent to {sent_states} States ({sent_mails} messages).")
