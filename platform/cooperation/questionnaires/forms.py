"""Forms of the builder, publication, settings, consent and analysis filters. Field checks
live here; rules that need the questionnaire (frozen, conditions, audience) are the services'."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from cooperation.membership.models import RegionalGroup
from cooperation.membership.services import GROUP_LABELS
from cooperation.questionnaires.models import QuestionType

TYPE_LABELS = {
    QuestionType.TEXT: _l("Short text"),
    QuestionType.LONG_TEXT: _l("Long text"),
    QuestionType.YES_NO: _l("Yes / no / unknown"),
    QuestionType.SINGLE: _l("Single choice"),
    QuestionType.MULTIPLE: _l("Multiple choice"),
    QuestionType.NUMBER: _l("Number"),
    QuestionType.DATE: _l("Date"),
    QuestionType.FILE: _l("Document (PDF, DOCX, ODT, TXT)"),
    QuestionType.LEGAL_REFERENCE: _l("Legal reference (Rome Statute article or national act)"),
}


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


class Select(SelectField):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("invalid_choice_message", _l("Choose one of the options in the list."))
        super().__init__(*args, **kwargs)


def group_choices(blank: Any = None) -> list[SelectChoice]:
    items = [SelectChoice(g.value, GROUP_LABELS[g]) for g in RegionalGroup]
    return [SelectChoice("", blank), *items] if blank else items


class QuestionnaireForm(FlaskForm):
    title_en = StringField(_l("Title in English"), filters=[_strip], validators=[Length(max=300)])
    title_fr = StringField(_l("Title in French"), filters=[_strip], validators=[Length(max=300)])
    description_en = TextAreaField(_l("Introduction in English"), filters=[_strip],
                                   validators=[Length(max=10_000)])
    description_fr = TextAreaField(_l("Introduction in French"), filters=[_strip],
                                   validators=[Length(max=10_000)])

    def validate_title_en(self, field: StringField) -> None:
        if not (self.title_en.data or self.title_fr.data):
            raise ValidationError(str(_l("Enter the title in English or in French (ideally both).")))


class SectionForm(FlaskForm):
    title_en = StringField(_l("Section title in English"), filters=[_strip], validators=[Length(max=300)])
    title_fr = StringField(_l("Section title in French"), filters=[_strip], validators=[Length(max=300)])

    def validate_title_en(self, field: StringField) -> None:
        if not (self.title_en.data or self.title_fr.data):
            raise ValidationError(str(_l("Enter the section title in English or in French (ideally both).")))


class QuestionForm(FlaskForm):
    section_id = Select(_l("Section"), coerce=int)
    qtype = Select(_l("Type of answer"),
                   choices=[SelectChoice(t.value, TYPE_LABELS[t]) for t in QuestionType])
    text_en = TextAreaField(_l("Question in English"), filters=[_strip], validators=[Length(max=2_000)])
    text_fr = TextAreaField(_l("Question in French"), filters=[_strip], validators=[Length(max=2_000)])
    guidance_en = TextAreaField(_l("Guidance in English"), filters=[_strip], validators=[Length(max=5_000)])
    guidance_fr = TextAreaField(_l("Guidance in French"), filters=[_strip], validators=[Length(max=5_000)])
    required = BooleanField(_l("An answer is required before submission"))
    options = TextAreaField(_l("Options (single and multiple choice)"), filters=[_strip],
                            validators=[Length(max=20_000)])
    condition_question_id = Select(_l("Show only when this earlier question..."), coerce=str)
    condition_value = StringField(_l("...has this answer (option code, or yes / no / unknown)"),
                                  filters=[_strip], validators=[Length(max=64)])

    def validate_text_en(self, field: TextAreaField) -> None:
        if not (self.text_en.data or self.text_fr.data):
            raise ValidationError(str(_l("Enter the question in English or in French (ideally both).")))


class SettingsForm(FlaskForm):
    share_responses = BooleanField(_l("States may read each other's submitted responses"))
    reminder_interval_days = IntegerField(
        _l("Remind States that have not submitted every ... days (leave empty for no reminders)"),
        validators=[Optional(), NumberRange(min=1, max=365, message=_l("Choose an interval between 1 and 365 days."))])
    closes_on = DateField(_l("Closing date"), validators=[Optional()])


class PublishForm(FlaskForm):
    audience = RadioField(_l("Send to"), choices=[SelectChoice("all", _l("All States Parties")),
                                                  SelectChoice("some", _l("The States and regional groups chosen below"))],
                          default="all", validators=[DataRequired(message=_l("Choose who receives it."))])
    states = SelectMultipleField(_l("States"), choices=[])
    groups = SelectMultipleField(_l("Regional groups"), choices=group_choices())
    opens_on = DateField(_l("Opening date"), validators=[DataRequired(message=_l("Enter the opening date."))])
    closes_on = DateField(_l("Closing date"), validators=[DataRequired(message=_l("Enter the closing date."))])

    def validate_closes_on(self, field: DateField) -> None:
        if self.opens_on.data and field.data and field.data < self.opens_on.data:
            raise ValidationError(str(_l("The closing date must be on or after the opening date.")))


class ConfirmForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class MoveForm(FlaskForm):
    direction = Select(_l("Direction"), choices=[SelectChoice("up", _l("Up")), SelectChoice("down", _l("Down"))])


class ConsentForm(FlaskForm):
    share_profile = BooleanField(_l("Share our country profile (our latest submitted answers) with the other States"))


class GroupFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    group = Select(_l("Regional group"), choices=group_choices(blank=_l("All regional groups")), default="")


class CompareForm(FlaskForm):
    class Meta:
        csrf = False

    a = IntegerField(_l("Revision"), validators=[DataRequired(), NumberRange(min=1)])
    b = IntegerField(_l("with revision"), validators=[DataRequired(), NumberRange(min=1)])
