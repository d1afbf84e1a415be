from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length

from cooperation.i18n import LANGUAGES
from cooperation.security.passwords import MAX_LENGTH

LANGUAGE_CHOICES = [SelectChoice(code, label) for code, label in LANGUAGES.items()]

PASSWORD_HINT = _l("At least 12 characters. Any characters, spaces included; a few unrelated words "
                   "make a strong passphrase. Your password manager is welcome.")


class AcceptInvitationForm(FlaskForm):
    full_name = StringField(_l("Full name"), validators=[DataRequired(_l("Enter your name.")), Length(max=200)])
    password = PasswordField(_l("Choose a password"), validators=[
        DataRequired(_l("Choose a password.")), Length(max=MAX_LENGTH)])
    confirm = PasswordField(_l("Repeat the password"), validators=[
        DataRequired(_l("Repeat the password.")), EqualTo("password", _l("The two passwords differ."))])
    locale = SelectField(_l("Language"), choices=LANGUAGE_CHOICES)


class TotpEnrolForm(FlaskForm):
    code = StringField(_l("6-digit code from your authenticator app"), validators=[
        DataRequired(_l("Enter the code shown in your authenticator app.")), Length(max=12)])


class ProfileForm(FlaskForm):
    full_name = StringField(_l("Full name"), validators=[DataRequired(_l("Enter your name.")), Length(max=200)])
    locale = SelectField(_l("Language"), choices=LANGUAGE_CHOICES)


class ChangePasswordForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[
        DataRequired(_l("Enter your current password.")), Length(max=MAX_LENGTH)])
    password = PasswordField(_l("New password"), validators=[
        DataRequired(_l("Choose a new password.")), Length(max=MAX_LENGTH)])
    confirm = PasswordField(_l("Repeat the new password"), validators=[
        DataRequired(_l("Repeat the new password.")), EqualTo("password", _l("The two passwords differ."))])


class ReauthForm(FlaskForm):
    """Re-enter the password before changing a second factor (ASVS 7.5.1)."""

    current = PasswordField(_l("Current password"), validators=[
        DataRequired(_l("Enter your current password.")), Length(max=MAX_LENGTH)])


class LanguageForm(FlaskForm):
    locale = SelectField(_l("Language"), choices=LANGUAGE_CHOICES)
