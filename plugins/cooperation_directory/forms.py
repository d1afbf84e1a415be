"""Forms: the contact point editor, the confirmation, and the (GET) search filters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField, StringField, TelField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, Optional, Regexp

from cooperation.membership.models import RegionalGroup
from cooperation_directory.models import Topic

TOPIC_LABELS = {
    Topic.ASSET_TRACING_FREEZING: _l("Asset tracing and freezing"),
    Topic.ARREST_SURRENDER: _l("Arrest and surrender"),
    Topic.GENERAL_COOPERATION: _l("General cooperation"),
}

REGIONAL_GROUP_LABELS = {
    RegionalGroup.AFRICAN: _l("African States"),
    RegionalGroup.ASIA_PACIFIC: _l("Asia-Pacific States"),
    RegionalGroup.EASTERN_EUROPEAN: _l("Eastern European States"),
    RegionalGroup.GRULAC: _l("Latin American and Caribbean States"),
    RegionalGroup.WEOG: _l("Western European and other States"),
}

# The Court's organs have no regional group; this value of the group filter selects them.
COURT_GROUP = "court"
COURT_LABEL = _l("The Court")

NOT_A_CHOICE = _l("Not a valid choice: pick one from the list.")
BAD_EMAIL = _l("Enter a valid e-mail address, e.g. name@ministry.example.")

# Digits, spaces and the usual separators; an international number starts with "+".
PHONE = Regexp(r"^\+?[0-9][0-9 ()./-]{3,48}$",
               message=_l("Enter a telephone number with digits, spaces and + ( ) . / - only, "
                          "e.g. +31 70 515 8515."))


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def _choices(labels: Mapping[str, Any], blank: Any = None) -> list[SelectChoice]:
    """Options from value -> (lazy) label, optionally after an empty "all" option."""
    options = [SelectChoice(value, label) for value, label in labels.items()]
    return [SelectChoice("", blank), *options] if blank is not None else options


def _text(label: str, max_length: int) -> StringField:
    return StringField(label, filters=[_strip], validators=[Optional(), Length(max=max_length)])


class ContactForm(FlaskForm):
    topic = SelectField(_l("Topic"), choices=_choices(TOPIC_LABELS),
                        validators=[DataRequired(_l("Choose a topic."))],
                        invalid_choice_message=NOT_A_CHOICE)
    authority = StringField(_l("Authority or office"), filters=[_strip], validators=[
        DataRequired(_l("Enter the name of the authority or office.")), Length(max=200)])
    person_name = _text(_l("Name of the person (optional)"), 200)
    position = _text(_l("Position"), 200)
    email = EmailField(_l("E-mail address"), filters=[_strip], validators=[
        DataRequired(_l("Enter an e-mail address.")), Length(max=254), Email(BAD_EMAIL)])
    phone = TelField(_l("Telephone"), filters=[_strip],
                     validators=[Optional(), Length(max=50), PHONE])
    languages = _text(_l("Working languages"), 200)
    secure_channel = TextAreaField(_l("Secure channel"), filters=[_strip],
                                   validators=[Optional(), Length(max=2000)])
    urgent_phone = TelField(_l("Urgent telephone (after hours)"), filters=[_strip],
                            validators=[Optional(), Length(max=50), PHONE])
    urgent_email = EmailField(_l("Urgent e-mail address (after hours)"), filters=[_strip],
                              validators=[Optional(), Length(max=254), Email(BAD_EMAIL)])
    urgent_hours = _text(_l("When the urgent channel is staffed"), 200)
    notes = TextAreaField(_l("Notes"), filters=[_strip], validators=[Optional(), Length(max=2000)])


class ConfirmForm(FlaskForm):
    confirm = BooleanField(_l("I confirm these entries are current"), validators=[
        DataRequired(_l("Tick the box to confirm that the entries are current."))])


class DeleteForm(FlaskForm):
    """CSRF only: the confirmation page is the question."""


class FilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form changes nothing

    q = _text(_l("Authority or person"), 100)
    group = SelectField(_l("Regional group"), validators=[Optional()],
                        invalid_choice_message=NOT_A_CHOICE,
                        choices=[*_choices(REGIONAL_GROUP_LABELS, _l("All groups")),
                                 SelectChoice(COURT_GROUP, COURT_LABEL)])
    # The States and the Court's organs are filled in by the view (they live in the database).
    state = SelectField(_l("State or organ of the Court"), validators=[Optional()],
                        invalid_choice_message=NOT_A_CHOICE,
                        choices=[SelectChoice("", _l("All States and the Court"))])
    topic = SelectField(_l("Topic"), validators=[Optional()], invalid_choice_message=NOT_A_CHOICE,
                        choices=_choices(TOPIC_LABELS, _l("All topics")))
    to_confirm = BooleanField(_l("Only entries to be confirmed"))
