"""Answer values: checking what a State sends for each question type (with a message that
says what to do) and showing a stored value to a reader or in an export."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import gettext as _

from cooperation.questionnaires.models import Question, QuestionType
from cooperation.questionnaires.text import field

MAX_TEXT = 2_000
MAX_LONG_TEXT = 20_000
MAX_TITLE = 300
MAX_PROVISION = 200
STATUTE_ARTICLES = 128
# 93(1)(k), 87(7), 54: an article, numbered paragraphs, an optional lettered sub-paragraph.
_ARTICLE = re.compile(r"^(\d{1,3})((?:\(\d{1,2}\))*)(\([a-z]{1,2}\))?$")


class AnswerError(ValueError):
    """The value does not fit the question; the message is safe to show."""


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def clean(question: Question, raw: Any, *, file_exists: Callable[[int], bool] | None = None) -> Any:
    """The value to store (None when the answer is cleared), or AnswerError."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    kind = question.qtype
    if kind in (QuestionType.TEXT, QuestionType.LONG_TEXT):
        return _text(raw, MAX_TEXT if kind == QuestionType.TEXT else MAX_LONG_TEXT)
    if kind in (QuestionType.YES_NO, QuestionType.SINGLE):
        if not isinstance(raw, str) or raw not in question.option_values():
            raise AnswerError(_("Choose yes, no or unknown.") if kind == QuestionType.YES_NO
                              else _("Choose one of the options in the list."))
        return raw
    if kind == QuestionType.MULTIPLE:
        return _multiple(question, raw)
    if kind == QuestionType.NUMBER:
        return _number(raw)
    if kind == QuestionType.DATE:
        return _date(raw)
    if kind == QuestionType.LEGAL_REFERENCE:
        return _legal_reference(raw)
    if kind == QuestionType.FILE:
        file_id = raw.get("file_id") if isinstance(raw, dict) else None
        if not isinstance(file_id, int) or file_exists is None or not file_exists(file_id):
            raise AnswerError(_("Upload the document with the file field."))
        return {"file_id": file_id}
    raise AnswerError(_("This question cannot be answered."))


def _text(raw: Any, limit: int) -> str | None:
    if not isinstance(raw, str):
        raise AnswerError(_("Enter text."))
    text = raw.replace("\r\n", "\n").strip()
    if "\x00" in text:
        raise AnswerError(_("The text contains a character that is not allowed."))
    if len(text) > limit:
        raise AnswerError(_("Keep this answer under %(n)s characters (it has %(m)s).",
                            n=f"{limit:,}", m=f"{len(text):,}"))
    return text or None


def _multiple(question: Question, raw: Any) -> list[str] | None:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise AnswerError(_("Choose only options from the list."))
    allowed = question.option_values()
    if any(v not in allowed for v in raw):
        raise AnswerError(_("Choose only options from the list."))
    chosen = [v for v in allowed if v in raw]  # the questionnaire's order, no duplicates
    return chosen or None


def _number(raw: Any) -> str:
    if isinstance(raw, bool):
        raise AnswerError(_("Enter a number, for example 12 or 3.5."))
    text = str(raw).strip().replace(" ", "").replace("\u202f", "")
    if "," in text:  # a French decimal comma, 3,5
        if "." in text or text.count(",") > 1:
            raise AnswerError(_("Enter a number, for example 12 or 3.5."))
        text = text.replace(",", ".")
    try:
        number = Decimal(text)
    except InvalidOperation as exc:
        raise AnswerError(_("Enter a number, for example 12 or 3.5.")) from exc
    if not number.is_finite() or abs(number) >= Decimal("1e15"):
        raise AnswerError(_("Enter a number, for example 12 or 3.5."))
    return format(number.normalize(), "f")


def _date(raw: Any) -> str:
    try:
        value = date.fromisoformat(str(raw).strip())
    except ValueError as exc:
        raise AnswerError(_("Enter a date as YYYY-MM-DD, for example 2020-02-14.")) from exc
    if not 1900 <= value.year <= 2100:
        raise AnswerError(_("Enter a date between 1900 and 2100."))
    return value.isoformat()


def _legal_reference(raw: Any) -> dict[str, str] | None:
    if not isinstance(raw, dict):
        raise AnswerError(_("Choose the Rome Statute or a national act, and give the reference."))
    kind = str(raw.get("kind") or "").strip()
    if kind == "statute":
        article = re.sub(r"\s+", "", str(raw.get("article") or "")).lower()
        article = article.removeprefix("article").removeprefix("art.")
        if not article:
            raise AnswerError(_("Enter the article of the Rome Statute, for example 93(1)(k)."))
        match = _ARTICLE.match(article)
        if not match or not 1 <= int(match.group(1)) <= STATUTE_ARTICLES:
            raise AnswerError(_("Enter an article of the Rome Statute such as 93(1)(k) "
                                "(articles 1 to 128)."))
        return {"kind": "statute", "article": article}
    if kind == "national":
        title = str(raw.get("title") or "").strip()
        provision = str(raw.get("provision") or "").strip()
        if not title:
            raise AnswerError(_("Enter the title of the national act."))
        if len(title) > MAX_TITLE or len(provision) > MAX_PROVISION:
            raise AnswerError(_("Keep the title under 300 and the provision under 200 characters."))
        return {"kind": "national", "title": title, "provision": provision}
    if not any(str(raw.get(k) or "").strip() for k in ("article", "title", "provision")):
        return None
    raise AnswerError(_("Choose the Rome Statute or a national act, and give the reference."))


# -- showing values ----------------------------------------------------------------------------

def option_label(question: Question, value: str, locale: str) -> str:
    if question.qtype == QuestionType.YES_NO:
        return {"yes": _("Yes"), "no": _("No"), "unknown": _("Unknown")}.get(value, value)
    for option in question.options:
        if option.value == value:
            return field(option, "label", locale).text
    return value


def display(question: Question, value: Any, locale: str, file_names: dict[int, str] | None = None) -> str:
    """A reader's text for a stored value ("" when unanswered)."""
    if is_empty(value):
        return ""
    kind = question.qtype
    if kind in (QuestionType.YES_NO, QuestionType.SINGLE):
        return option_label(question, str(value), locale)
    if kind == QuestionType.MULTIPLE:
        return "; ".join(option_label(question, v, locale) for v in value)
    if kind == QuestionType.LEGAL_REFERENCE and isinstance(value, dict):
        if value.get("kind") == "statute":
            return _("Rome Statute, article %(article)s", article=value.get("article", ""))
        parts = [value.get("title", ""), value.get("provision", "")]
        return ", ".join(p for p in parts if p)
    if kind == QuestionType.FILE and isinstance(value, dict):
        return (file_names or {}).get(value.get("file_id", 0), _("(document)"))
    return str(value)


def export_value(question: Question, value: Any, file_names: dict[int, str] | None = None) -> str:
    """Stable, language-neutral cell text: option codes (see the codebook), ISO dates."""
    if is_empty(value):
        return ""
    if question.qtype == QuestionType.MULTIPLE:
        return "; ".join(value)
    if question.qtype == QuestionType.LEGAL_REFERENCE and isinstance(value, dict):
        if value.get("kind") == "statute":
            return f"Rome Statute art. {value.get('article', '')}"
        return ", ".join(p for p in (value.get("title", ""), value.get("provision", "")) if p)
    if question.qtype == QuestionType.FILE and isinstance(value, dict):
        return (file_names or {}).get(value.get("file_id", 0), "")
    return str(value)


def visible_ids(questions: list[Question], values: dict[int, Any]) -> set[int]:
    """Questions shown given the answers: a conditional question is shown when its (visible)
    earlier question's answer equals the value, or contains it for multiple choice."""
    shown: set[int] = set()
    for q in questions:  # in order: a condition always points to an earlier question
        cond = q.condition_question_id
        if cond is None:
            shown.add(q.id)
            continue
        if cond not in shown:
            continue
        answer = values.get(cond)
        if answer == q.condition_value or (isinstance(answer, list) and q.condition_value in answer):
            shown.add(q.id)
    return shown
