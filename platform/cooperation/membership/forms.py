"""Forms of membership administration and State user management.

Field checks (required, length, format) live here; rules that need the database (unique code,
roles a Party may hold, who may manage whom) are enforced again by the services.
"""

from __future__ import annotations

from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import Field, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from cooperation.accounts.models import UserStatus
from cooperation.accounts.services import ROLE_LABELS, ROLES_FOR_STATE, STATUS_LABELS
from cooperation.membership.models import PartyStatus, RegionalGroup
from cooperation.membership.services import (
    GROUP_LABELS,
    INVITATION_STATE_LABELS,
    MAX_NAME,
    PARTY_STATUS_LABELS,
)
from cooperation.permissions import Role


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


class EmailSyntax:
    """RFC 5322/6531 syntax via email_validator; no DNS lookup (delivery is the mail server's)."""

    def __call__(self, form: FlaskForm, field: Field) -> None:
        if not field.data:
            return
        try:
            validate_email(field.data, check_deliverability=False)
        except EmailNotValidError as exc:
            raise ValidationError(str(_l("This is not a valid e-mail address."))) from exc


class Select(SelectField):
    """A select whose "not in the list" error says what to do."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("invalid_choice_message", _l("Choose one of the options in the list."))
        super().__init__(*args, **kwargs)


class RoleSelect(SelectField):
    """Shows the roles the Party may hold, accepts any role name: a role that does not fit the Party
    is then refused by the view or service with a message naming the allowed roles."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, validate_choice=False, **kwargs)

    def pre_validate(self, form: FlaskForm) -> None:
        if self.data and self.data not in {r.value for r in Role}:
            raise ValidationError(str(_l("Choose one of the roles in the list.")))


def choice(value: str, label: Any) -> SelectChoice:
    return SelectChoice(value, label)


def _group_choices(blank: bool = False) -> list[SelectChoice]:
    choices = [choice(g.value, GROUP_LABELS[g]) for g in RegionalGroup]
    return [choice("", _l("Any regional group")), *choices] if blank else choices


def _party_status_choices(blank: bool = False) -> list[SelectChoice]:
    choices = [choice(s.value, PARTY_STATUS_LABELS[s]) for s in PartyStatus]
    return [choice("", _l("Any status")), *choices] if blank else choices


def role_choices(
    roles: tuple[Role, ...] | list[Role] = tuple(Role), blank: Any = None
) -> list[SelectChoice]:
    choices = [choice(r.value, ROLE_LABELS[r]) for r in roles]
    return [choice("", blank), *choices] if blank else choices


# -- States ----------------------------------------------------------------------------------------


class StateFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form changes nothing

    group = Select(
        _l("Regional group"), choices=_group_choices(blank=True), validators=[Optional()]
    )
    status = Select(
        _l("Status"), choices=_party_status_choices(blank=True), validators=[Optional()]
    )
    q = StringField(_l("Name or code"), filters=[_strip], validators=[Optional(), Length(max=100)])


class _StateNamesForm(FlaskForm):
    name_en = StringField(
        _l("Name in English"),
        filters=[_strip],
        validators=[
            DataRequired(_l("Enter the English name.")),
            Length(max=MAX_NAME, message=_l("At most %(max)d characters.")),
        ],
    )
    name_fr = StringField(
        _l("Name in French"),
        filters=[_strip],
        validators=[
            DataRequired(_l("Enter the French name.")),
            Length(max=MAX_NAME, message=_l("At most %(max)d characters.")),
        ],
    )
    regional_group = Select(
        _l("United Nations regional group"),
        choices=_group_choices(),
        validators=[DataRequired(_l("Choose a regional group."))],
    )


class StateCreateForm(_StateNamesForm):
    code = StringField(
        _l("ISO 3166-1 alpha-3 code"),
        filters=[_upper],
        validators=[
            DataRequired(_l("Enter the three-letter code.")),
            Regexp(
                r"^[A-Z]{3}\Z",
                message=_l("The code must be three letters A to Z, for example NLD."),
            ),
        ],
    )


class StateEditForm(_StateNamesForm):
    status = Select(
        _l("Status"),
        choices=_party_status_choices(),
        validators=[DataRequired(_l("Choose a status."))],
    )
    reason = TextAreaField(
        _l("Reason for a change of status"),
        filters=[_strip],
        validators=[Optional(), Length(max=500, message=_l("At most %(max)d characters."))],
    )


# -- users -----------------------------------------------------------------------------------------


class UserFilterForm(FlaskForm):
    class Meta:
        csrf = False

    party = Select(_l("State or organisation"), choices=[], validators=[Optional()])
    role = Select(_l("Role"), choices=role_choices(blank=_l("Any role")), validators=[Optional()])
    status = Select(
        _l("Status"),
        choices=[choice("", _l("Any status"))]
        + [choice(s.value, STATUS_LABELS[s]) for s in UserStatus],
        validators=[Optional()],
    )
    q = StringField(
        _l("Name or e-mail address"), filters=[_strip], validators=[Optional(), Length(max=254)]
    )


class RoleForm(FlaskForm):
    role = RoleSelect(_l("New role"), choices=[], validators=[DataRequired(_l("Choose a role."))])

    def __init__(self, roles: tuple[Role, ...], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.role.choices = role_choices(roles)


STATUS_ACTIONS = {
    UserStatus.SUSPENDED.value: _l("Suspend (can be reactivated)"),
    UserStatus.ACTIVE.value: _l("Reactivate"),
    UserStatus.DEACTIVATED.value: _l("Deactivate for good"),
}


class StatusForm(FlaskForm):
    status = Select(_l("Action"), choices=[], validators=[DataRequired(_l("Choose an action."))])
    reason = TextAreaField(
        _l("Reason"),
        filters=[_strip],
        validators=[Length(max=500, message=_l("At most %(max)d characters."))],
    )

    def __init__(self, statuses: tuple[UserStatus, ...], *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.status.choices = [choice(s.value, STATUS_ACTIONS[s.value]) for s in statuses]

    def validate_reason(self, field: Field) -> None:
        # Taking access away must say why; reactivation may go without.
        if self.status.data != UserStatus.ACTIVE.value and not field.data:
            raise ValidationError(str(_l("Give the reason for this change.")))


# -- invitations -----------------------------------------------------------------------------------


class _InviteBase(FlaskForm):
    email = StringField(
        _l("E-mail address"),
        filters=[_strip],
        validators=[
            DataRequired(_l("Enter the e-mail address.")),
            Length(max=254, message=_l("At most %(max)d characters.")),
            EmailSyntax(),
        ],
    )
    full_name = StringField(
        _l("Full name"),
        filters=[_strip],
        validators=[
            DataRequired(_l("Enter the person's full name.")),
            Length(max=200, message=_l("At most %(max)d characters.")),
        ],
    )


class InviteForm(_InviteBase):
    """Secretariat: any active Party, any role that Party's users may hold."""

    party = Select(
        _l("State or organisation"),
        choices=[],
        validators=[DataRequired(_l("Choose the State or organisation."))],
    )
    role = RoleSelect(
        _l("Role"), choices=role_choices(), validators=[DataRequired(_l("Choose a role."))]
    )


class StateInviteForm(_InviteBase):
    """Focal point: their own State, member or focal point."""

    role = RoleSelect(
        _l("Role"),
        choices=role_choices(ROLES_FOR_STATE),
        validators=[DataRequired(_l("Choose a role."))],
    )


class InvitationFilterForm(FlaskForm):
    class Meta:
        csrf = False

    state = Select(
        _l("Invitation state"),
        choices=[choice("", _l("Any state"))]
        + [choice(k, v) for k, v in INVITATION_STATE_LABELS.items()],
        validators=[Optional()],
    )


class ConfirmForm(FlaskForm):
    """A button that changes something: only the CSRF token."""
