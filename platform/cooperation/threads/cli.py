"""`flask --app cooperation threads send-digests`: the daily, content-free digest mail."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from flask_babel import force_locale
from flask_babel import gettext as _

from cooperation.db import utcnow
from cooperation.extensions import db
from cooperation.mail import MailError, send_mail
from cooperation.threads import services

threads_cli = click.Group("threads", help="End-to-end encrypted threads.")


@threads_cli.command("send-digests", help="Mail digest users who have something new waiting (run daily).")
@with_appcontext
def send_digests() -> None:
    now = utcnow()
    sent = failed = 0
    for pref, address in services.digest_recipients(db.session, now):
        try:
            with force_locale("en"):
                send_mail(address, _("New activity on the Secure Platform on Cooperation"),
                          _("Something new is waiting for you in your secure threads.\n\n"
                            "Sign in to the platform to read it. For your protection, this mail never "
                            "contains any content.\n"))
        except MailError:
            failed += 1
            continue
        pref.last_digest_at = now
        db.session.commit()  # one by one: a failure later does not re-send earlier mails
        sent += 1
    db.session.commit()
    click.echo(f"Digests sent: {sent}; failed: {failed}.")
