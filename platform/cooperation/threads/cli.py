"""`flask --app cooperation threads send-digests`: the daily, content-free digest mail."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from cooperation.db import utcnow
from cooperation.extensions import db
from cooperation.mail import MailError
from cooperation.threads import services
from cooperation.threads.notices import send_new_activity

threads_cli = click.Group("threads", help="End-to-end encrypted threads.")


@threads_cli.command("send-digests", help="Mail digest users who have something new waiting (run daily).")
@with_appcontext
def send_digests() -> None:
    now = utcnow()
    sent = failed = 0
    for pref, address, locale in services.digest_recipients(db.session, now):
        try:
            send_new_activity(address, locale, digest=True)
        except MailError:
            failed += 1
            continue
        pref.last_digest_at = now
        db.session.commit()  # one by one: a failure later does not re-send earlier mails
        sent += 1
    db.session.commit()
    click.echo(f"Digests sent: {sent}; failed: {failed}.")
