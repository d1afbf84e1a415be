"""CSV and XLSX exports: one row per State, one column per question (its code), plus a
codebook sheet (code, text EN/FR, type, options). Every text cell that a spreadsheet would
read as a formula is neutralised (OWASP CSV injection)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from cooperation.membership.models import Party
from cooperation.questionnaires import values
from cooperation.questionnaires.models import Question, Questionnaire
from cooperation.spreadsheets import neutralise

FIXED_COLUMNS = ("state_code", "state", "regional_group", "status", "submitted_at", "revision")


@dataclass(frozen=True)
class ExportRow:
    party: Party
    status: str
    submitted_at: str
    revision: str
    values: dict[int, Any]


def header(questions: Sequence[Question]) -> list[str]:
    return [*FIXED_COLUMNS, *(q.code for q in questions)]


def cells(row: ExportRow, questions: Sequence[Question], file_names: dict[int, str]) -> list[str]:
    fixed = [row.party.code, row.party.name_en,
             row.party.regional_group.value if row.party.regional_group else "",
             row.status, row.submitted_at, row.revision]
    answers = [values.export_value(q, row.values.get(q.id), file_names) for q in questions]
    return [neutralise(v) for v in (*fixed, *answers)]


def codebook(questions: Sequence[Question]) -> Iterator[list[str]]:
    yield ["question_id", "section", "text_en", "text_fr", "type", "required", "options", "shown_when"]
    for q in questions:
        options = "; ".join(f"{v}" for v in q.option_values()) if q.qtype.can_be_condition else ""
        if q.qtype.has_options:
            options = "; ".join(f"{o.value} = {o.label_en} / {o.label_fr}" for o in q.options)
        condition = (f"{q.condition_question.code} = {q.condition_value}"
                     if q.condition_question is not None else "")
        yield [neutralise(v) for v in (q.code, q.section.title_en or q.section.title_fr, q.text_en, q.text_fr,
                                       q.qtype.value, "yes" if q.required else "no", options, condition)]


def csv_chunks(questionnaire: Questionnaire, rows: Sequence[ExportRow], file_names: dict[int, str]) -> Iterator[str]:
    questions = questionnaire.ordered_questions()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # Excel reads UTF-8 only with a byte-order mark
    writer.writerow(header(questions))
    for row in rows:
        writer.writerow(cells(row, questions, file_names))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def xlsx_bytes(questionnaire: Questionnaire, rows: Sequence[ExportRow], file_names: dict[int, str]) -> bytes:
    questions = questionnaire.ordered_questions()
    workbook = Workbook(write_only=True)
    answers = workbook.create_sheet("Answers")
    answers.append(header(questions))
    for row in rows:
        answers.append([_text_cell(answers, v) for v in cells(row, questions, file_names)])
    book = workbook.create_sheet("Codebook")
    for line in codebook(questions):
        book.append([_text_cell(book, v) for v in line])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _text_cell(sheet: Any, value: str) -> WriteOnlyCell:
    # Always a string cell: openpyxl would otherwise store "=..." as a formula.
    cell = WriteOnlyCell(sheet, value=value)
    cell.data_type = "s"
    return cell
