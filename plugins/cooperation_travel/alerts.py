"""The mails of travel reports: content-free alerts, sent after the commit.

Mail is not a confidential channel. An alert says only that an urgent report is waiting, with a
link to sign in; it never names a State, a person, a place or a date (the server could not: the
report is encrypted in the reporter's browser). It goes to every recipient's own address and to
the urgent (after-hours) addresses of the directory of contact points (services.urgent_channels),
so that someone on duty is reached out of office hours too. Subject and body are in English and
French: a duty address has no language preference.

Logs name neither addresses nor reports' content; failures are counted in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, url_for
from flask_babel import force_locale
from flask_babel import gettext as _

from cooperation.mail import MailError, send_mail
from cooperation_travel.models import Report
from cooperation_travel.services import Channel, recipients_to_alert

LOCALES = ("en", "fr")


@dataclass(frozen=True)
class Sent:
    users: tuple[int, ...]
    channels: int
    failed: int


def _both(make) -> list[str]:  # type: ignore[no-untyped-def]
    parts = []
    for locale in LOCALES:
        with force_locale(locale):
            parts.append(make())
    return parts


def _link(report: Report) -> str:
    return url_for("travel.report", report_id=report.id, _external=True)


def _send(address: str, subject: str, body: str) -> bool:
    try:
        send_mail(address, subject, body)
    except MailError:
        current_app.logger.warning("travel report mail not sent")
        return False
    return True


def alert(report: Report, channels: list[Channel]) -> Sent:
    """One mail per address (a person who is also a duty address gets one)."""
    link = _link(report)
    subject = " / ".join(_both(lambda: _("Urgent report waiting on the Secure Platform on Cooperation")))[:200]
    body = "\n\n----------\n\n".join(_both(lambda: _(
        "An urgent report is waiting for you on the Secure Platform on Cooperation. Please read "
        "it and act on it now.\n\nSign in to read it; for its confidentiality this mail carries no "
        "content:\n\n%(link)s", link=link)))
    seen: set[str] = set()
    users, channels_sent, failed = [], 0, 0
    for item in recipients_to_alert(report):
        address = item.user.email.lower()
        if address in seen:
            users.append(item.user_id)
            continue
        seen.add(address)
        if _send(address, subject, body):
            users.append(item.user_id)
        else:
            failed += 1
    for channel in channels:
        address = channel.address.lower()
        if address in seen:
            channels_sent += 1
            continue
        seen.add(address)
        if _send(address, subject, body):
            channels_sent += 1
        else:
            failed += 1
    return Sent(tuple(users), channels_sent, failed)


def acknowledged(report: Report) -> bool:
    """Tell the reporter that the Court acknowledged receipt (no content, a link)."""
    if report.reported_by is None or not report.reported_by.is_active:
        return False
    link = _link(report)
    subject = " / ".join(_both(lambda: _("Your urgent report was acknowledged by the Court")))[:200]
    body = "\n\n----------\n\n".join(_both(lambda: _(
        "The Court acknowledged receipt of the urgent report you sent on the Secure Platform on "
        "Cooperation.\n\nSign in to follow it up; for its confidentiality this mail carries no "
        "content:\n\n%(link)s", link=link)))
    return _send(report.reported_by.email, subject, body)
