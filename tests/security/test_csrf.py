"""Every POST endpoint of the URL map refuses a request without a valid CSRF token (400), for a
signed-in user, before the view runs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select

from cooperation.audit.models import AuditEvent
from cooperation.extensions import db
from cooperation.permissions import Role
from tests.conftest import _clean
from tests.factories import make_user
from tests.security import world as w


@pytest.fixture(scope="module")
def signed_in(_schema_app: Flask) -> Iterator[tuple[Flask, dict[str, w.Principal], w.Objects]]:
    app = _schema_app
    _clean(app)
    with app.app_context():
        users = {"admin": make_user("ASP-SEC", Role.SECRETARIAT_ADMIN, "admin@asp.test"),
                 "focal_nl": make_user("NLD", Role.STATE_FOCAL_POINT, "focal@nl.test")}
        db.session.commit()
        principals = {}
        for name, user in users.items():
            principal = w.Principal(name, w.new_client(app), w.snapshot(user))
            w.sign_in(principal)
            principals[name] = principal
        yield app, principals, w.Objects(app)
        db.session.remove()


def _post_rules(app: Flask) -> list:  # type: ignore[type-arg]
    return [rule for rule, method in w.checked_rules(app)
            if method == "POST" and rule.endpoint not in w.CSRF_EXEMPT_ENDPOINTS]


@pytest.mark.parametrize("who", ["admin", "focal_nl"])
@pytest.mark.parametrize("token", ["missing", "forged"])
def test_every_post_refuses_a_missing_or_forged_token(signed_in, who, token):
    app, principals, objects = signed_in
    with app.app_context():
        principal = principals[who]
        rules = _post_rules(app)
        assert len(rules) >= 15
        problems = []
        for rule in rules:
            w.ensure_state(principal)
            values = objects.values(rule, "NLD", principal.user.id)
            assert values is not None, objects.unknown
            path = app.url_map.bind("localhost").build(rule.endpoint, values, method="POST")
            before = db.session.scalar(select(func.count()).select_from(AuditEvent))
            data = {} if token == "missing" else {"csrf_token": "IjAwMDAi.forged.token"}
            response = principal.client.post(path, data=data)
            body = response.get_data(as_text=True)
            if response.status_code != 400 or "reload the page" not in body:
                problems.append(f"{rule.rule}: {response.status_code}")
            # Refused before the view: nothing was recorded (so nothing was done).
            after = db.session.scalar(select(func.count()).select_from(AuditEvent))
            db.session.commit()
            if after != before:
                problems.append(f"{rule.rule}: the view ran ({after - before} audit entries)")
        assert not problems, "\n".join(problems)


def test_a_token_from_another_session_is_refused(signed_in):
    app, principals, _ = signed_in
    with app.app_context():
        admin, focal = principals["admin"], principals["focal_nl"]
        w.ensure_state(admin)
        w.ensure_state(focal)
        response = admin.client.post("/account/sessions/end-all", data={"csrf_token": focal.csrf})
        assert response.status_code == 400
        assert w.still_signed_in(admin)
        # And the real token works (the refusal above was about the token).
        response = admin.client.post("/language", data={"csrf_token": admin.csrf, "locale": "en"})
        assert response.status_code == 302


def test_unexpected_query_parameters_do_not_break_the_audit_export(signed_in):
    """The export records its filters in the audit log; a stray `?token=` (a forbidden detail
    key) must neither fail the request nor reach the log."""
    app, principals, _ = signed_in
    with app.app_context():
        admin = principals["admin"]
        w.ensure_state(admin)
        response = admin.client.get("/admin/audit/export.csv?token=abc&code=1&outcome=success")
        response.get_data()
        assert response.status_code == 200
        last = db.session.scalars(select(AuditEvent.details).where(AuditEvent.action == "audit.export")
                                  .order_by(AuditEvent.seq.desc())).first()
        db.session.commit()
        assert last is not None and "abc" not in last and "success" in last
