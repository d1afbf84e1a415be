"""CSV export of contact points, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import datetime

from cooperation.db import utcnow
from cooperation.spreadsheets import neutralise
from cooperation_directory.models import ContactPoint

HEADER = ("state_code", "state", "regional_group", "topic", "authority", "person_name", "position",
          "email", "phone", "working_languages", "secure_channel", "urgent_phone", "urgent_email",
          "urgent_hours", "notes", "last_confirmed", "to_be_confirmed")

def row(contact: ContactPoint, locale: str, now: datetime) -> list[str]:
    party = contact.party
    confirmed = contact.last_confirmed_at.date().isoformat() if contact.last_confirmed_at else ""
    group = party.regional_group.value if party.regional_group else ""
    values = (party.code, party.name(locale), group,
              contact.topic.value, contact.authority, contact.person_name, contact.position,
              contact.email, contact.phone, contact.languages, contact.secure_channel,
              contact.urgent_phone, contact.urgent_email, contact.urgent_hours, contact.notes,
              confirmed, "yes" if contact.needs_confirmation(now) else "no")
    return [neutralise(v) for v in values]


def rows(contacts: Iterable[ContactPoint], locale: str) -> Iterator[str]:
    """The CSV text in chunks, header first."""
    now = utcnow()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    for contact in contacts:
        writer.writerow(row(contact, locale, now))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
