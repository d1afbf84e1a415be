"""Forms of the travel pages and the labels of their vocabulary.

ReportForm is never posted: the "Report travel" page renders it for its labels, hints and
accessible markup, and the browser encrypts what is typed into the report's thread
(static/page-new.js). Only the Court's acknowledgement and outcome are posted forms.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from cooperation_travel.models import Outcome, RecipientKind

OUTCOME_LABELS = {
    Outcome.ARRESTED_SURRENDERED: _l("Arrested and surrendered to the Court"),
    Outcome.ARRESTED: _l("Arrested, surrender pending"),
    Outcome.DID_NOT_TRAVEL: _l("The travel did not take place"),
    Outcome.TRAVELLED_NOT_ARRESTED: _l("Travelled without being arrested"),
    Outcome.OTHER: _l("Other (see the encrypted thread)"),
}

RECIPIENT_LABELS = {
    RecipientKind.COURT: _l("Court"),
    RecipientKind.FOCAL_POINT: _l("Bureau focal point"),
}

TRAVEL_KINDS = {
    "potential": _l("Potential travel (planned or expected)"),
    "confirmed": _l("Confirmed travel (under way or taken place)"),
}

NOT_A_CHOICE = _l("Not a valid choice: pick one from the list.")


def choices(labels: Mapping[Any, Any], blank: Any = None) -> list[SelectChoice]:
    options = [SelectChoice(value, label) for value, label in labels.items()]
    return [SelectChoice("", blank), *options] if blank is not None else options


class ReportForm(FlaskForm):
    """The report as typed by its author; see the module doc (encrypted, never posted)."""

    kind = SelectField(_l("Potential or confirmed travel"), choices=choices(TRAVEL_KINDS, _l("Choose")))
    persons = StringField(_l("Person or persons subject to an arrest warrant"), validators=[Length(max=300)])
    court_ref = StringField(_l("Arrest warrant or case reference (optional)"), validators=[Length(max=100)])
    itinerary = StringField(_l("Itinerary: from, to, via"), validators=[Length(max=500)])
    dates = StringField(_l("Dates and times, with the time zone"), validators=[Length(max=300)])
    transport = TextAreaField(_l("Means of travel (optional)"), validators=[Length(max=2000)])
    source = TextAreaField(_l("Source of the information and its reliability (optional)"),
                           validators=[Length(max=2000)])
    details = TextAreaField(_l("Other information (optional)"), validators=[Length(max=5000)])
    handling = SelectField(_l("Handling code"), choices=[])


class AcknowledgeForm(FlaskForm):
    """A button and its CSRF token."""


class OutcomeForm(FlaskForm):
    outcome = SelectField(_l("Outcome"), choices=choices(OUTCOME_LABELS, _l("Choose the outcome")),
                          invalid_choice_message=NOT_A_CHOICE,
                          validators=[DataRequired(_l("Choose the outcome."))])

