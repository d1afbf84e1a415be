"""Non-cooperation procedures (plugin).

A case file per matter of non-cooperation: the requested State, the Court decision that referred
it to the Assembly (or, in the urgent scenario, the information that an arrest and surrender
request is about to fail), the situation and the status. The formal procedure of the Assembly
procedures relating to non-cooperation (ICC-ASP/10/Res.5, annex; revised in ICC-ASP/17/Res.5,
annex II) is followed step by step with dates, owners, computed deadlines (deadlines.py),
overdue flags and mailed reminders; the informal procedure (the President's good offices with
the regional focal points) is a log of interactions and of the oral reports to the Bureau.

Case files are confidential (Secretariat, Court, designated Bureau focal points) until the
Secretariat releases a public summary to all members.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import click
from flask import Blueprint, Flask, current_app
from flask.cli import with_appcontext
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from cooperation.permissions import Permission, Role
from cooperation.plugins import NavItem, Plugin


class NonCooperationPlugin(Plugin):
    name = "noncooperation"
    title = "Non-cooperation procedures"
    description = ("Case files, the formal procedure's steps and deadlines, the President's good "
                   "offices, and public summaries of the Assembly procedures relating to non-cooperation.")
    models_module = "cooperation_noncooperation.models"

    def blueprints(self) -> Iterable[tuple[Blueprint, str]]:
        from cooperation_noncooperation.views import bp

        return ((bp, "/noncooperation"),)

    def nav_items(self) -> Iterable[NavItem]:
        from cooperation_noncooperation.permissions import CASES_READ

        return (NavItem(label=lambda: str(_l("Non-cooperation")), endpoint="noncooperation.index",
                        permission=CASES_READ, order=45),)

    def permissions(self) -> Iterable[Permission]:
        from cooperation_noncooperation.permissions import ALL_PERMISSIONS

        return ALL_PERMISSIONS

    def grants(self) -> Mapping[Permission, Iterable[Role]]:
        from cooperation_noncooperation.permissions import GRANTS

        return GRANTS

    def init_app(self, app: Flask) -> None:
        app.cli.add_command(noncooperation_cli)

    def seed_demo(self, session: Session, echo: Callable[[str], None]) -> None:
        from cooperation_noncooperation.seed import seed_demo

        seed_demo(session, echo)


noncooperation_cli = click.Group("noncooperation", help="Non-cooperation procedures.")


@noncooperation_cli.command(
    "send-reminders",
    help="Mail reminders of steps overdue or due within two working days, once per step per day "
         "(run daily from cron).")
@click.option("--today", "today_text", default=None, metavar="YYYY-MM-DD",
              help="Count deadlines as on this date (default: today, UTC).")
@with_appcontext
def send_reminders(today_text: str | None) -> None:
    from datetime import date

    from cooperation.audit.service import Actor
    from cooperation.db import utcnow
    from cooperation.extensions import db
    from cooperation_noncooperation import reminders

    try:
        today = date.fromisoformat(today_text) if today_text else utcnow().date()
    except ValueError as exc:
        raise click.BadParameter("use the form YYYY-MM-DD", param_hint="--today") from exc
    actor = Actor.system("cli:noncooperation-send-reminders")
    steps = mails = already = 0
    # A request context gives url_for the configured SERVER_NAME and scheme for the links.
    with current_app.test_request_context():
        for item in reminders.due(db.session, today):
            sent = reminders.remind(db.session, item, today, actor)
            db.session.commit()  # one step at a time: a later failure keeps earlier records
            if sent is None:
                already += 1
            elif sent:
                steps += 1
                mails += sent
    click.echo(f"Reminders sent for {steps} steps ({mails} messages); {already} already reminded today.")


plugin = NonCooperationPlugin()
