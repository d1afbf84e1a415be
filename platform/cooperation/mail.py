"""Outgoing mail through SMTP (production, tests) or printed to the console (demo)."""

from __future__ import annotations

import smtplib
import ssl
import sys
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app


class MailError(RuntimeError):
    """The mail server refused or could not be reached; the message says so without secrets."""


def send_mail(to: str, subject: str, body: str) -> None:
    config = current_app.config
    message = EmailMessage()
    # EmailMessage refuses CR/LF in headers (no header injection, ASVS 1.3.11).
    message["From"] = config["MAIL_DEFAULT_SENDER"]
    message["To"] = to
    message["Subject"] = subject
    message["Message-ID"] = make_msgid(domain=config["MAIL_DEFAULT_SENDER"].rpartition("@")[2] or None)
    message.set_content(body)
    if config["MAIL_BACKEND"] == "console":
        # Demo only: production refuses to start with this backend.
        print(f"\n----- mail to {to} -----\nSubject: {subject}\n\n{body}\n-----", file=sys.stdout,
              flush=True)
        return
    try:
        if config["MAIL_USE_SSL"]:
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                config["MAIL_SERVER"], config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT"],
                context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"],
                                  timeout=config["MAIL_TIMEOUT"])
        with client:
            if config["MAIL_USE_TLS"]:
                client.starttls(context=ssl.create_default_context())
            if config["MAIL_USERNAME"]:
                client.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        current_app.logger.error("mail to a recipient failed: %s", type(exc).__name__)
        raise MailError("The mail server could not be reached.") from exc
