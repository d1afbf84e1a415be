"""Forms of the agreements registry and the labels of its vocabulary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, DateField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from cooperation.membership.services import GROUP_LABELS
from cooperation_agreements.models import AgreementForm, AgreementKind, AgreementStatus

KIND_LABELS = {
    AgreementKind.WITNESS_RELOCATION: _l("Relocation of witnesses"),
    AgreementKind.ENFORCEMENT_OF_SENTENCES: _l("Enforcement of sentences"),
    AgreementKind.INTERIM_RELEASE: _l("Interim release"),
    AgreementKind.RELEASE_OF_PERSONS: _l("Release of persons"),
}

STATUS_LABELS = {
    AgreementStatus.UNDER_DISCUSSION: _l("Under discussion"),
    AgreementStatus.SIGNED: _l("Signed"),
    AgreementStatus.IN_FORCE: _l("In force"),
}

FORM_LABELS = {
    AgreementForm.FRAMEWORK: _l("Framework agreement"),
    AgreementForm.AD_HOC: _l("Ad hoc agreement (one case)"),
    AgreementForm.ARRANGEMENT: _l("Operational arrangement"),
}

NOT_A_CHOICE = _l("Not a valid choice: pick one from the list.")


def _strip(value: str | None) -> str | None:
    return value.strip() if isinstance(value, str) else value


def choices(labels: Mapping[str, Any], blank: Any = None) -> list[SelectChoice]:
    options = [SelectChoice(value, label) for value, label in labels.items()]
    return [SelectChoice("", blank), *options] if blank is not None else options


class AgreementEditForm(FlaskForm):
    # The States are filled in by the view.
    state = SelectField(_l("State"), choices=[], invalid_choice_message=NOT_A_CHOICE,
                        validators=[DataRequired(_l("Choose the State."))])
    kind = SelectField(_l("Kind of agreement"), choices=choices(KIND_LABELS), invalid_choice_message=NOT_A_CHOICE,
                       validators=[DataRequired(_l("Choose the kind of agreement."))])
    form_kind = SelectField(_l("Form"), choices=choices(FORM_LABELS), invalid_choice_message=NOT_A_CHOICE,
                            default=AgreementForm.FRAMEWORK.value, validators=[DataRequired()])
    status = SelectField(_l("Status"), choices=choices(STATUS_LABELS), invalid_choice_message=NOT_A_CHOICE,
                         validators=[DataRequired(_l("Choose the status."))])
    title = StringField(_l("Title"), filters=[_strip], validators=[Optional(), Length(max=300)])
    discussions_started_on = DateField(_l("Discussions started on"), validators=[Optional()])
    signed_on = DateField(_l("Signed on"), validators=[Optional()])
    in_force_on = DateField(_l("In force since"), validators=[Optional()])
    confidential = BooleanField(_l("Confidential: only the Court and the State concerned see this entry"),
                                default=True)
    notes = TextAreaField(_l("Notes"), filters=[_strip], validators=[Optional(), Length(max=5000)])


class FileUploadForm(FlaskForm):
    title = StringField(_l("Title of the document"), filters=[_strip], validators=[Optional(), Length(max=200)])
    file = FileField(_l("File (PDF, DOCX or ODT, at most 10 MiB)"))
    url = StringField(_l("Or a link to the published text (https)"), filters=[_strip],
                      validators=[Optional(), Length(max=500)])


class ConfirmDeleteForm(FlaskForm):
    """CSRF only: the confirmation page is the question."""


class FilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form changes nothing

    kind = SelectField(_l("Kind of agreement"), choices=choices(KIND_LABELS, _l("All kinds")),
                       validators=[Optional()], invalid_choice_message=NOT_A_CHOICE)
    status = SelectField(_l("Status"), choices=choices(STATUS_LABELS, _l("All statuses")),
                         validators=[Optional()], invalid_choice_message=NOT_A_CHOICE)
    group = SelectField(_l("Regional group"), choices=choices(GROUP_LABELS, _l("All groups")),
                        validators=[Optional()], invalid_choice_message=NOT_A_CHOICE)
    # Filled in by the view.
    state = SelectField(_l("State"), choices=[SelectChoice("", _l("All States"))], validators=[Optional()],
                        invalid_choice_message=NOT_A_CHOICE)
