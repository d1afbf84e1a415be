"""A service's refusal of a form's values, and how a view shows it: on the field it names, or as
a flashed message when it names none the form has. Plugins' services raise subclasses, and their
views save a form's work with `saving`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import abort, flash

from cooperation.extensions import db


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


class Attempt:
    """What `saving` tells the view: whether the work was committed."""

    saved = False


@contextmanager
def saving(form: Any, *, not_found: tuple[type[Exception], ...] = ()) -> Iterator[Attempt]:
    """A form's write: the block's service calls are committed on the way out; a FieldRefusal
    rolls them back and is shown on the form (attempt.saved stays False, the view renders the
    form again); an exception in `not_found` rolls back and answers 404. Anything else rolls
    back with the request and propagates."""
    attempt = Attempt()
    try:
        yield attempt
        db.session.commit()
    except FieldRefusal as refusal:
        db.session.rollback()
        show_on_form(form, refusal)
        return
    except not_found:
        db.session.rollback()
        abort(404)
    attempt.saved = True
