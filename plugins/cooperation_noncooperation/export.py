"""CSV export of the case files a user may see, safe to open in a spreadsheet.

Members who see only released summaries get the public columns; the Secretariat, the Court and
the designated focal points also get the state of the formal procedure (flags and the next
deadline), never the content of the good-offices interactions.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date

from cooperation.spreadsheets import neutralise
from cooperation_noncooperation import deadlines as d
from cooperation_noncooperation.models import Case
from cooperation_noncooperation.services import summarise

PUBLIC_HEADER = ("reference", "requested_state_code", "requested_state", "regional_group", "situation",
                 "court_decision", "decision_date", "status", "released_on", "public_summary")
CONFIDENTIAL_HEADER = (*PUBLIC_HEADER, "scenario", "released", "steps_overdue", "steps_due_soon",
                       "next_step", "next_deadline", "interactions", "oral_reports_overdue")


def _day(value: date | None) -> str:
    return value.isoformat() if value else ""


def row(case: Case, *, confidential: bool, locale: str, sessions: tuple[d.Session, ...],
        today: date) -> list[str]:
    party = case.requested_party
    values: list[object] = [
        case.reference, party.code, party.name(locale),
        party.regional_group.value if party.regional_group else "", case.situation,
        case.decision_reference, _day(case.decision_date), case.status.value,
        _day(case.released_at.date() if case.released_at else None), case.public_summary]
    if confidential:
        summary = summarise(case, sessions, today)
        nxt = summary.next_step
        values += [case.scenario.value, "yes" if case.is_released else "no", summary.overdue,
                   summary.due_soon, nxt.kind.value if nxt else "", _day(nxt.deadline if nxt else None),
                   len(case.interactions), summary.reports_overdue]
    return [neutralise(v) for v in values]


def rows(cases: Iterable[Case], *, confidential: bool, locale: str, sessions: tuple[d.Session, ...],
         today: date) -> Iterator[str]:
    """The CSV text in chunks, header first."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CONFIDENTIAL_HEADER if confidential else PUBLIC_HEADER)
    for case in cases:
        writer.writerow(row(case, confidential=confidential, locale=locale, sessions=sessions, today=today))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
