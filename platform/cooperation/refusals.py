"""A service's refusal of a form's values, and how a view shows it: on the field it names, or as
a flashed message when it names none the form has. Plugins' services raise subclasses."""

from __future__ import annotations

from typing import Any

from flask import flash


class FieldRefusal(ValueError):
    """A value breaks a rule; `field` names the form field, the message says what to do."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def show_on_form(form: Any, refusal: FieldRefusal) -> None:
    target = getattr(form, refusal.field, None)
    if target is None:
        flash(refusal.message, "error")
        return
    # Before validation a field's errors may still be a tuple.
    target.errors = [*target.errors, refusal.message] if isinstance(target.errors, list) else [refusal.message]
