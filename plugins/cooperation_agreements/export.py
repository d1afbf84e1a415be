"""CSV export of the agreements a user may see, safe to open in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date

from cooperation.spreadsheets import neutralise
from cooperation_agreements.models import Agreement

HEADER = ("state_code", "state", "regional_group", "kind", "form", "status", "title",
          "discussions_started_on", "signed_on", "in_force_on", "confidential", "documents", "notes")


def _day(value: date | None) -> str:
    return value.isoformat() if value else ""


def row(agreement: Agreement, locale: str) -> list[str]:
    party = agreement.party
    values = (party.code, party.name(locale), party.regional_group.value if party.regional_group else "",
              agreement.kind.value, agreement.form.value, agreement.status.value, agreement.title,
              _day(agreement.discussions_started_on), _day(agreement.signed_on), _day(agreement.in_force_on),
              "yes" if agreement.confidential else "no", len(agreement.files), agreement.notes)
    return [neutralise(v) for v in values]


def rows(agreements: Iterable[Agreement], locale: str) -> Iterator[str]:
    """The CSV text in chunks, header first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    for agreement in agreements:
        writer.writerow(row(agreement, locale))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
