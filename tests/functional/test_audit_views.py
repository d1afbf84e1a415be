"""The Secretariat filters and exports the audit log; nobody else reaches it."""

from __future__ import annotations

import csv
import io

from cooperation.audit.service import Actor, record
from cooperation.extensions import db


def _seed_events() -> None:
    record(db.session, "invitation.create", Actor(None, "someone@asp.test", "ASP-SEC", "10.0.0.1"),
           details={"email": "=cmd|' /C calc'!A0"})
    record(db.session, "auth.login", Actor(None, "x@nl.test", "NLD", "10.0.0.2"), outcome="failure")
    db.session.commit()


def test_admin_filters_the_log(client, auth, users):
    _seed_events()
    auth.login(users["admin"])
    page = client.get("/admin/audit/?outcome=failure&party=NLD").get_data(as_text=True)
    assert "x@nl.test" in page
    assert "someone@asp.test" not in page


def test_bad_filter_is_refused_without_error(client, auth, users):
    auth.login(users["admin"])
    response = client.get("/admin/audit/?since=not-a-date")
    assert response.status_code == 200
    assert "Not a valid date" in response.get_data(as_text=True)


def test_csv_export_neutralises_formulas_and_is_audited(client, auth, users):
    _seed_events()
    auth.login(users["admin"])
    response = client.get("/admin/audit/export.csv")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    details = [r["details"] for r in rows if r["action"] == "invitation.create"]
    assert details and not details[0].startswith("=")
    page = client.get("/admin/audit/?action=audit.export").get_data(as_text=True)
    assert "audit.export" in page


def test_state_users_and_court_cannot_read_the_log(client, auth, users):
    for key in ("focal_nl", "member_sn", "editor", "court"):
        auth.login(users[key])
        assert client.get("/admin/audit/").status_code == 404
        assert client.get("/admin/audit/export.csv").status_code == 404
        auth.logout()


def test_dashboard_differs_by_role(client, auth, users):
    auth.login(users["admin"])
    admin_page = client.get("/dashboard").get_data(as_text=True)
    assert "Active States Parties" in admin_page
    auth.logout()
    auth.login(users["member_nl"])
    member_page = client.get("/dashboard").get_data(as_text=True)
    assert "Active States Parties" not in member_page
    assert "Audit log" not in member_page
