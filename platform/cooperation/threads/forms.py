"""Form shells of the threads pages. They are rendered by the server (labels, hints, choices,
through macros/forms.html) but never posted to it: the browser encrypts what is typed and sends
only ciphertext to the API (static/js/threads/). Hence plain wtforms.Form without a CSRF field;
the API calls carry the session's CSRF token in a header."""

from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, Form, SelectChoice, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional


def _choices(labels: dict[str, Any], blank: Any = None) -> list[SelectChoice]:
    choices = [SelectChoice(value, label) for value, label in labels.items()]
    return [SelectChoice("", blank), *choices] if blank is not None else choices


class NewThreadForm(Form):
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)],
                        render_kw={"maxlength": 200, "required": True, "autocomplete": "off"})
    topic = SelectField(_l("Topic"), validators=[DataRequired()], render_kw={"required": True})
    court_ref = StringField(_l("Court request reference (optional)"), validators=[Optional(), Length(max=100)],
                            render_kw={"maxlength": 100, "autocomplete": "off"})
    parties = SelectMultipleField(_l("Other participating States and organisations"), render_kw={"size": 10})
    share_history = BooleanField(_l("Participants added later can read the earlier messages"), default=True)

    def __init__(self, topics: dict[str, Any], parties: list[tuple[str, str, bool]]) -> None:
        super().__init__()
        self.topic.choices = _choices(topics, blank=_l("Choose a topic"))
        self.parties.choices = [SelectChoice(code, f"{code} · {name}",
                                             optgroup=str(_l("States")) if is_state else str(_l("Organisations")))
                                for code, name, is_state in parties]


class ComposerForm(Form):
    text = TextAreaField(_l("Message"), render_kw={"rows": 5, "maxlength": 100000})
    handling = SelectField(_l("Handling code"), validators=[DataRequired()], render_kw={"required": True})

    def __init__(self, handling: dict[str, Any]) -> None:
        super().__init__()
        self.handling.choices = _choices(handling, blank=_l("Choose a handling code"))
