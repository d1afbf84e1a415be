"""cooperation.refusals.saving, the write of a plugin's form: committed on the way out; a
FieldRefusal rolls back and lands on the form's field; a lookup failure rolls back and is 404."""

from __future__ import annotations

import pytest
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from werkzeug.exceptions import NotFound
from wtforms import StringField

from cooperation.audit.models import AuditEvent
from cooperation.audit.service import Actor, record
from cooperation.extensions import db
from cooperation.refusals import FieldRefusal, saving


class NameForm(FlaskForm):
    class Meta:
        csrf = False

    name = StringField("Name")


def _events() -> int:
    return int(db.session.scalar(select(func.count()).select_from(AuditEvent)) or 0)


def _write() -> None:
    record(db.session, "test.refusals", Actor.system("test"), target_type="test", target_id="1")


def test_saving_commits_or_rolls_back_and_shows_the_refusal(app):
    with app.test_request_context("/", method="POST"):
        before = _events()
        form = NameForm()
        with saving(form) as attempt:
            _write()
        assert attempt.saved and _events() == before + 1

        with saving(form) as attempt:
            _write()
            raise FieldRefusal("name", "Choose another name.")
        assert not attempt.saved and form.name.errors == ["Choose another name."]
        assert _events() == before + 1  # the second write was rolled back

        with pytest.raises(NotFound), saving(form, not_found=(LookupError,)):
            _write()
            raise LookupError("gone")
        assert _events() == before + 1
