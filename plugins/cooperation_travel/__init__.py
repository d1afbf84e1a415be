"""Urgent information on the travel of persons subject to arrest warrants of the Court (plugin).

The Assembly urged States to share with the focal points on non-cooperation any information
concerning potential or confirmed travel of persons against whom an arrest warrant has been
issued, and asked the focal points to share it promptly with the Court (ICC-ASP/18/Res.6,
paras. 26-27; report of the Bureau on non-cooperation, ICC-ASP/19, paras. 23-26 and 38). The
Court, for its part, needs such information in time, and focal points it can reach after hours
(report of the Court on cooperation, 2016, paras. 54-59).

Here a State user (a designated Bureau focal point included) reports travel on one page. The
browser encrypts the report into an end-to-end encrypted thread (cooperation/threads, the TEK
protocol) whose members are the reporter's own State's users, the Court's users and the
designated focal points (only them, never their whole State); the server keeps only the routing
record (models.py), alerts every recipient and the directory's urgent channels at once by a
content-free mail, records when each recipient's browser first decrypted the report, and lets
the Court acknowledge receipt and, later, record the outcome.

Binding to the thread protocol (PROTOCOL.md §12): the thread is created with the engine of
static/js/threads/ (share_history on, so that participants the Court adds later can read it);
its encrypted metadata is {"title", "topic": "other", "court_ref": the warrant or case
reference}; its first message, with the handling code the reporter chose, holds the report as
labelled lines of text, so that the thread page and the Python client show it as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from flask import Blueprint
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from cooperation.permissions import Permission, Role
from cooperation.plugins import NavItem, Plugin


class TravelPlugin(Plugin):
    name = "travel"
    title = "Travel of persons subject to arrest warrants"
    description = ("Urgent, end-to-end encrypted reports of potential or confirmed travel, sent to "
                   "the Court and the Bureau focal points, with alerts, receipts and outcomes.")
    models_module = "cooperation_travel.models"

    def blueprints(self) -> Iterable[tuple[Blueprint, str]]:
        from cooperation_travel.views import bp

        return ((bp, "/travel"),)

    def nav_items(self) -> Iterable[NavItem]:
        from cooperation_travel.permissions import REPORTS_READ

        return (NavItem(label=lambda: str(_l("Travel reports")), endpoint="travel.index",
                        permission=REPORTS_READ, order=22),)

    def permissions(self) -> Iterable[Permission]:
        from cooperation_travel.permissions import ALL_PERMISSIONS

        return ALL_PERMISSIONS

    def grants(self) -> Mapping[Permission, Iterable[Role]]:
        from cooperation_travel.permissions import GRANTS

        return GRANTS

    def seed_demo(self, session: Session, echo: Callable[[str], None]) -> None:
        # Nothing to seed: a report exists only as an encrypted thread made in a browser with
        # the reporter's keys, and the demo accounts have none. A row without its thread would
        # show a report nobody can open.
        echo("Travel reports: none seeded (reports are encrypted in the browser; set up your keys "
             "under Threads, then use Report travel).")


plugin = TravelPlugin()
