from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField
from wtforms.validators import DataRequired, Length


class UserCodeForm(FlaskForm):
    user_code = StringField(_l("Code shown by the application"), validators=[
        DataRequired(_l("Enter the code shown by the application.")), Length(max=20)])


class DecisionForm(FlaskForm):
    approve = SubmitField(_l("Allow access"))
    deny = SubmitField(_l("Deny"))
