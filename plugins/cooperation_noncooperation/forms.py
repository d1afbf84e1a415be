"""Forms of the non-cooperation pages and the labels of the procedures' vocabulary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from cooperation.membership.services import GROUP_LABELS
from cooperation_noncooperation.deadlines import Flag, Reason, Scenario, StepKind
from cooperation_noncooperation.models import CaseStatus, ConductedBy, OwnerBody

SCENARIO_LABELS = {
    Scenario.REFERRAL: _l("Referral by the Court (formal and informal procedure)"),
    Scenario.URGENT: _l("Urgent: an arrest and surrender request is about to fail (informal procedure)"),
}

STATUS_LABELS = {CaseStatus.OPEN: _l("Open"), CaseStatus.CLOSED: _l("Closed")}

STEP_LABELS = {
    StepKind.FORWARD_DECISION: _l("Court decision forwarded to all States Parties"),
    StepKind.EMERGENCY_BUREAU: _l("Emergency meeting of the Bureau"),
    StepKind.OPEN_LETTER: _l("Open letter of the President to the requested State"),
    StepKind.BUREAU_MEETING: _l("Bureau meeting with the requested State"),
    StepKind.WORKING_GROUP_MEETING: _l("Public meeting of the New York Working Group"),
    StepKind.BUREAU_REPORT: _l("Report of the Bureau to the Assembly"),
    StepKind.PLENARY: _l("Discussion in the plenary of the Assembly"),
}

# The label of the "done" date, per step.
DONE_LABELS = {
    StepKind.FORWARD_DECISION: _l("Forwarded on"),
    StepKind.EMERGENCY_BUREAU: _l("Held on"),
    StepKind.OPEN_LETTER: _l("Letter sent on"),
    StepKind.BUREAU_MEETING: _l("Held on"),
    StepKind.WORKING_GROUP_MEETING: _l("Held on"),
    StepKind.BUREAU_REPORT: _l("Submitted on"),
    StepKind.PLENARY: _l("Discussed on"),
}

OWNER_LABELS = {
    OwnerBody.SECRETARIAT: _l("Secretariat of the Assembly"),
    OwnerBody.PRESIDENT: _l("President of the Assembly"),
    OwnerBody.BUREAU: _l("Bureau"),
    OwnerBody.WORKING_GROUP: _l("New York Working Group"),
    OwnerBody.ASSEMBLY: _l("Assembly (plenary)"),
}

FLAG_LABELS = {
    Flag.DONE: _l("Done"),
    Flag.NOT_APPLICABLE: _l("Not applicable"),
    Flag.OVERDUE: _l("Overdue"),
    Flag.DUE_SOON: _l("Due soon"),
    Flag.UPCOMING: _l("Upcoming"),
    Flag.TO_SCHEDULE: _l("To be scheduled"),
    Flag.WAITING: _l("Waiting for an earlier step"),
    Flag.UNDETERMINED: _l("Enter the next session of the Assembly"),
}

REASON_LABELS = {
    Reason.WITHOUT_DELAY: _l("Without delay: the first working day after the Court's decision."),
    Reason.UPON_RESPONSE: _l("Upon the response or the expiry of the time limit, whichever comes first."),
    Reason.BEFORE_REPORT: _l("The next session opens more than three months after the Bureau meeting: "
                             "the public meeting takes place before the Bureau report."),
    Reason.SESSION_OPENS: _l("The report goes to the next session of the Assembly: due when it opens."),
    Reason.SESSION_CLOSES: _l("At the next (or ongoing) session of the Assembly: due when it closes."),
    Reason.PLANNED: _l("The procedures set no deadline: the planned date applies."),
    Reason.NOT_PLANNED: _l("The procedures set no deadline: enter the planned date."),
    Reason.DONE: _l("Done."),
    Reason.INFORMAL_ONLY: _l("The urgent scenario calls for the informal procedure only."),
    Reason.MARKED_NOT_APPLICABLE: _l("Marked as not applicable."),
    Reason.SESSION_TOO_SOON: _l("The next session opens within three months of the Bureau meeting: "
                                "no public meeting of the working group."),
    Reason.WAIT_DECISION: _l("Enter the date of the Court's decision."),
    Reason.WAIT_LETTER: _l("Follows the open letter and its time limit."),
    Reason.WAIT_BUREAU_MEETING: _l("Follows the Bureau meeting with the requested State."),
    Reason.NEED_SESSION: _l("Enter the dates of the next session of the Assembly."),
}

CONDUCTED_BY_LABELS = {
    ConductedBy.PRESIDENT: _l("President of the Assembly"),
    ConductedBy.FOCAL_POINT: _l("Regional focal point"),
    ConductedBy.BUREAU_MEMBER: _l("Other member of the Bureau"),
}

NOT_A_CHOICE = _l("Not a valid choice: pick one from the list.")


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def choices(labels: Mapping[str, Any], blank: Any = None) -> list[SelectChoice]:
    options = [SelectChoice(value, label) for value, label in labels.items()]
    return [SelectChoice("", blank), *options] if blank is not None else options


class CaseForm(FlaskForm):
    # The States are filled in by the view (they live in the database).
    requested_state = SelectField(_l("Requested State"), validators=[DataRequired(_l("Choose the requested State."))],
                                  invalid_choice_message=NOT_A_CHOICE, choices=[])
    scenario = SelectField(_l("Scenario"), choices=choices(SCENARIO_LABELS), invalid_choice_message=NOT_A_CHOICE,
                           validators=[DataRequired(_l("Choose the scenario."))])
    situation = StringField(_l("Situation"), filters=[_strip], validators=[
        DataRequired(_l("Enter the situation, e.g. Darfur, Sudan (ICC-02/05).")), Length(max=200)])
    decision_reference = StringField(_l("Court decision (number and title)"), filters=[_strip],
                                     validators=[Optional(), Length(max=100)])
    decision_date = DateField(_l("Date of the Court decision"), validators=[Optional()])
    urgent_information = TextAreaField(_l("Information that the request is about to fail"), filters=[_strip],
                                       validators=[Optional(), Length(max=5000)])
    status = SelectField(_l("Status"), choices=choices(STATUS_LABELS), invalid_choice_message=NOT_A_CHOICE,
                         default=CaseStatus.OPEN.value)


class StepForm(FlaskForm):
    owner_body = SelectField(_l("Responsible under the procedures"), choices=choices(OWNER_LABELS),
                             invalid_choice_message=NOT_A_CHOICE, validators=[DataRequired()])
    # Filled in by the view: Secretariat users and designated focal points.
    owner_user = SelectField(_l("Followed up on the platform by"), choices=[], validators=[Optional()],
                             invalid_choice_message=NOT_A_CHOICE)
    planned_on = DateField(_l("Planned date"), validators=[Optional()])
    completed_on = DateField(_l("Done on"), validators=[Optional()])
    not_applicable = BooleanField(_l("Not applicable in this case"))
    notes = TextAreaField(_l("Notes"), filters=[_strip], validators=[Optional(), Length(max=5000)])
    response_deadline = DateField(_l("Response deadline set in the letter"), validators=[Optional()])
    response_received_on = DateField(_l("Written response received on"), validators=[Optional()])


class SummaryForm(FlaskForm):
    summary = TextAreaField(_l("Public summary"), filters=[_strip], validators=[Optional(), Length(max=10000)])
    released = BooleanField(_l("Released to all members of the platform"))


class InteractionForm(FlaskForm):
    occurred_on = DateField(_l("Date of the interaction"), validators=[
        DataRequired(_l("Enter the date of the interaction."))])
    conducted_by = SelectField(_l("Conducted by"), choices=choices(CONDUCTED_BY_LABELS),
                               invalid_choice_message=NOT_A_CHOICE, validators=[DataRequired()])
    regional_group = SelectField(_l("Regional group of the focal point"),
                                 choices=choices(GROUP_LABELS, _l("Not applicable")),
                                 invalid_choice_message=NOT_A_CHOICE, validators=[Optional()])
    participants = StringField(_l("Who took part for the Assembly"), filters=[_strip],
                               validators=[Optional(), Length(max=300)])
    counterpart = StringField(_l("With whom"), filters=[_strip], validators=[
        DataRequired(_l("Say with whom the interaction took place.")), Length(max=300)])
    summary = TextAreaField(_l("Summary"), filters=[_strip], validators=[
        DataRequired(_l("Summarise the interaction.")), Length(max=10000)])
    reported_to_bureau_on = DateField(_l("Oral report to the Bureau on"), validators=[Optional()])


class DesignateForm(FlaskForm):
    user = SelectField(_l("State user"), choices=[], invalid_choice_message=NOT_A_CHOICE,
                       validators=[DataRequired(_l("Choose the person to designate."))])
    regional_group = SelectField(_l("Regional group served"), choices=choices(GROUP_LABELS),
                                 invalid_choice_message=NOT_A_CHOICE, validators=[DataRequired()])


class EndDesignationForm(FlaskForm):
    designation = HiddenField(validators=[DataRequired()])


class SessionForm(FlaskForm):
    label = StringField(_l("Session"), filters=[_strip], validators=[
        DataRequired(_l("Name the session, e.g. Twenty-fifth session.")), Length(max=100)])
    opens_on = DateField(_l("Opens on"), validators=[DataRequired(_l("Enter the opening date."))])
    closes_on = DateField(_l("Closes on"), validators=[DataRequired(_l("Enter the closing date."))])
    place = StringField(_l("Place"), filters=[_strip], validators=[Optional(), Length(max=100)])


class RemoveSessionForm(FlaskForm):
    session = HiddenField(validators=[DataRequired()])


class FilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter changes nothing

    status = SelectField(_l("Status"), choices=choices(STATUS_LABELS, _l("All")), validators=[Optional()],
                         invalid_choice_message=NOT_A_CHOICE)
