"""The content-free mails of the threads ("something new is waiting"), each in its recipient's
language (the one they chose on their account), whoever or whatever triggers it: a sender's
request in another language, or the daily digest command, which has no request at all."""

from __future__ import annotations

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from cooperation.i18n import LANGUAGES
from cooperation.mail import MailError, send_mail


def _language(locale: str | None) -> str:
    return locale if locale in LANGUAGES else "en"


def send_new_activity(address: str, locale: str | None, *, digest: bool = False) -> None:
    """Raises MailError when the mail server refused it."""
    with force_locale(_language(locale)):
        subject = _("New activity on the Secure Platform on Cooperation")
        if digest:
            body = _("Something new is waiting for you in your secure threads.\n\n"
                     "Sign in to the platform to read it. For your protection, this mail never "
                     "contains any content.\n")
        else:
            body = _("Something new is waiting for you in one of your secure threads.\n\n"
                     "Sign in to the platform to read it. For your protection, this mail never "
                     "contains any content.\n")
    send_mail(address, subject, body)


def notify_new_activity(recipients: list[tuple[str, str]]) -> None:
    """After the commit, per-event mode: a failed mail is logged (without the address), never fatal."""
    for address, locale in recipients:
        try:
            send_new_activity(address, locale)
        except MailError:
            current_app.logger.warning("thread notification mail not sent")
