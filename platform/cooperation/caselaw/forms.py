"""Forms of the case-law section. Field checks (lengths, formats, choices) are here; rules that
depend on the item (what an explainer needs, who may approve) are enforced by the services."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DateTimeLocalField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import URL, DataRequired, Length, NumberRange, Optional, Regexp

from cooperation.caselaw.taxonomy import (
    CHAMBER_LABELS,
    GUIDANCE_KIND_LABELS,
    KIND_LABELS,
    LANGUAGE_LABELS,
    TOPIC_LABELS,
    articles,
)

MAX_MARKDOWN = 50_000
INVALID_CHOICE = _l("Choose one of the options in the list.")


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _choices(labels: dict[str, Any], blank: Any = None) -> list[SelectChoice]:
    found = [SelectChoice(str(k), v) for k, v in labels.items()]
    return [SelectChoice("", blank), *found] if blank is not None else found


def article_choices(locale: str) -> list[SelectChoice]:
    return [SelectChoice(a.code, f"{a.code} – {a.title(locale)}") for a in articles()]


class ItemForm(FlaskForm):
    slug = StringField(_l("Address (slug)"), filters=[_strip], validators=[
        DataRequired(_l("Give the item an address.")), Length(max=120),
        Regexp(r"^[a-z0-9]+(?:-[a-z0-9]+)*$",
               message=_l("Use lower-case letters, digits and single hyphens."))])
    language = SelectField(_l("Language"), choices=_choices(LANGUAGE_LABELS),
                           invalid_choice_message=INVALID_CHOICE, default="en")
    title = StringField(_l("Title"), filters=[_strip],
                        validators=[DataRequired(_l("Give the item a title.")), Length(max=300)])
    document_number = StringField(_l("ICC document number"), filters=[_strip], validators=[Length(max=120)])
    chamber = SelectField(_l("Chamber"), choices=_choices(CHAMBER_LABELS, _l("Not applicable")),
                          invalid_choice_message=INVALID_CHOICE, default="")
    decision_date = DateField(_l("Date of the decision"), validators=[Optional()],
                              render_kw={"autocomplete": "off"})
    situation = StringField(_l("Situation"), filters=[_strip], validators=[Length(max=200)])
    case_name = StringField(_l("Case"), filters=[_strip], validators=[Length(max=300)])
    guidance_kind = SelectField(_l("Kind of guidance"), choices=_choices(GUIDANCE_KIND_LABELS, _l("Not applicable")),
                                invalid_choice_message=INVALID_CHOICE, default="")
    holding = TextAreaField(_l("Holding, in plain words (Markdown)"), validators=[Length(max=MAX_MARKDOWN)],
                            render_kw={"rows": 6})
    practice = TextAreaField(_l("What it means in practice for a national authority (Markdown)"),
                             validators=[Length(max=MAX_MARKDOWN)], render_kw={"rows": 6})
    body = TextAreaField(_l("Text (Markdown)"), validators=[Length(max=MAX_MARKDOWN)], render_kw={"rows": 12})
    decision_url = StringField(_l("Link to the decision"), filters=[_strip], validators=[
        Optional(), Length(max=500),
        URL(require_tld=True, message=_l("Give the full address of the decision, starting with https://."))])
    topics = SelectMultipleField(_l("Topics"), choices=_choices(TOPIC_LABELS),
                                 invalid_choice_message=INVALID_CHOICE, default=list)
    articles = SelectMultipleField(_l("Rome Statute articles"), choices=[],
                                   invalid_choice_message=INVALID_CHOICE, default=list)
    related_ids = SelectMultipleField(_l("Related explainers and guidance"), coerce=int, choices=[],
                                      invalid_choice_message=INVALID_CHOICE, default=list)
    note = StringField(_l("Note on this version (optional)"), filters=[_strip], validators=[Length(max=500)])

    def set_choices(self, locale: str, relatable: list[tuple[int, str]]) -> None:
        self.articles.choices = article_choices(locale)
        self.related_ids.choices = [SelectChoice(i, label) for i, label in relatable]  # type: ignore[arg-type]


class EditItemForm(ItemForm):
    """Address and language are fixed once an item exists (stable URLs, one language per item)."""

    slug = None  # type: ignore[assignment]
    language = None  # type: ignore[assignment]


class ConfirmForm(FlaskForm):
    """A button that changes state: the CSRF token is the only field."""


class ApproveForm(FlaskForm):
    publish_at = DateTimeLocalField(_l("Publish at (UTC; leave empty to publish now)"), validators=[Optional()],
                                    format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"])

    def publish_at_utc(self) -> Any:
        value = self.publish_at.data
        return value.replace(tzinfo=UTC) if value is not None else None


class ReturnForm(FlaskForm):
    note = TextAreaField(_l("What needs to change"), filters=[_strip],
                         validators=[DataRequired(_l("Say what needs to change.")), Length(max=500)],
                         render_kw={"rows": 3})


class WithdrawForm(FlaskForm):
    reason = TextAreaField(_l("Reason for withdrawing"), filters=[_strip],
                           validators=[DataRequired(_l("Give the reason for withdrawing the item.")),
                                       Length(max=500)], render_kw={"rows": 2})


class RestoreForm(FlaskForm):
    version = IntegerField(_l("Version to restore"), validators=[
        DataRequired(_l("Choose a version.")), NumberRange(min=1, message=_l("Choose a version."))])


class CompareForm(FlaskForm):
    class Meta:
        csrf = False  # a GET form that changes nothing

    a = IntegerField(_l("Older version"), validators=[Optional(), NumberRange(min=1)])
    b = IntegerField(_l("Newer version"), validators=[Optional(), NumberRange(min=1)])


class SearchForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form changes nothing

    q = StringField(_l("Search"), filters=[_strip], validators=[Length(max=200)])
    kind = SelectField(_l("Type"), choices=_choices(KIND_LABELS, _l("Any type")), invalid_choice_message=INVALID_CHOICE, default="")
    topic = SelectField(_l("Topic"), choices=_choices(TOPIC_LABELS, _l("Any topic")),
                        invalid_choice_message=INVALID_CHOICE, default="")
    article = SelectField(_l("Article"), choices=[], invalid_choice_message=INVALID_CHOICE, default="")
    chamber = SelectField(_l("Chamber"), choices=_choices(CHAMBER_LABELS, _l("Any chamber")),
                          invalid_choice_message=INVALID_CHOICE, default="")
    year = IntegerField(_l("Year of the decision"), validators=[
        Optional(), NumberRange(min=2002, max=2100, message=_l("Give a year between 2002 and 2100."))])
    language = SelectField(_l("Language"), choices=_choices(LANGUAGE_LABELS, _l("Any language")),
                           invalid_choice_message=INVALID_CHOICE, default="")
    page = IntegerField(_l("Page"), validators=[Optional(), NumberRange(min=1, max=1000)])

    def set_choices(self, locale: str) -> None:
        self.article.choices = [SelectChoice("", _l("Any article")), *article_choices(locale)]
