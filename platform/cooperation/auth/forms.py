from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from cooperation.security.passwords import MAX_LENGTH


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail address"), validators=[
        # No syntax check beyond length: sign-in must not tell valid from invalid accounts.
        DataRequired(_l("Enter your e-mail address.")), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[
        DataRequired(_l("Enter your password.")), Length(max=MAX_LENGTH)])


class TotpForm(FlaskForm):
    code = StringField(_l("6-digit code from your authenticator app"), validators=[
        DataRequired(_l("Enter the code shown in your authenticator app.")), Length(max=12)])


class RecoveryCodeForm(FlaskForm):
    recovery_code = StringField(_l("Recovery code"), validators=[
        DataRequired(_l("Enter one of your recovery codes.")), Length(max=40)])
