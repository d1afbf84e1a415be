"""Registry of voluntary cooperation agreements: the Registry keeps it; confidential entries are
seen by the Court and the State concerned only; figures per regional group; documents (checked
uploads or https links); CSV export; audit."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from cooperation.audit.models import AuditEvent
from cooperation.db import utcnow
from cooperation.extensions import db
from cooperation.membership.models import RegionalGroup
from cooperation_agreements import services
from cooperation_agreements.models import Agreement, AgreementFile, AgreementKind, AgreementStatus
from tests.conftest import csrf_from
from tests.factories import party

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def add(code: str, kind: AgreementKind = AgreementKind.ENFORCEMENT_OF_SENTENCES,
        status: AgreementStatus = AgreementStatus.IN_FORCE, *, confidential: bool = False, **values: object
        ) -> Agreement:
    now = utcnow()
    if status == AgreementStatus.IN_FORCE:
        values.setdefault("in_force_on", date(2016, 8, 1))
    agreement = Agreement(party_id=party(code).id, kind=kind, status=status, confidential=confidential,
                          created_at=now, updated_at=now, **values)
    db.session.add(agreement)
    db.session.commit()
    return agreement


def form_data(**changes: str) -> dict[str, str]:
    data = {"state": str(party("NOR").id), "kind": "enforcement_of_sentences", "form_kind": "framework",
            "status": "in_force", "title": "Agreement on the enforcement of sentences",
            "discussions_started_on": "2014-03-01", "signed_on": "2016-03-01", "in_force_on": "2016-08-01",
            "confidential": "", "notes": ""}
    data.update(changes)
    return {k: v for k, v in data.items() if v != "" or k not in ("confidential",)}


def post_form(client, path: str, data: dict[str, str]):  # type: ignore[no-untyped-def]
    page = client.get(path)
    assert page.status_code == 200, path
    return client.post(path, data={**data, "csrf_token": csrf_from(page.get_data(as_text=True))})


def audit(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


# -- keeping the registry --------------------------------------------------------------------------

def test_registry_editor_records_edits_and_deletes(client, auth, users):
    auth.login(users["editor"])
    response = post_form(client, "/agreements/new", form_data())
    assert response.status_code == 302, response.get_data(as_text=True)
    agreement = db.session.scalar(select(Agreement))
    assert (agreement.party.code, agreement.status, agreement.in_force_on) == ("NOR", AgreementStatus.IN_FORCE,
                                                                            date(2016, 8, 1))
    assert agreement.confidential is False
    response = post_form(client, f"/agreements/{agreement.id}/edit", form_data(notes="Norway, 2016.", confidential="y"))
    assert response.status_code == 302
    db.session.refresh(agreement)
    assert agreement.notes == "Norway, 2016." and agreement.confidential
    response = post_form(client, f"/agreements/{agreement.id}/delete", {})
    assert response.status_code == 302 and db.session.scalar(select(func.count()).select_from(Agreement)) == 0
    create, update, delete = (audit(f"agreements.agreement.{a}") for a in ("create", "update", "delete"))
    assert len(create) == len(update) == len(delete) == 1
    assert json.loads(update[0].details)["fields"] == ["confidential", "notes"]
    assert "Norway, 2016." not in update[0].details


@pytest.mark.parametrize(("changes", "message"), [
    ({"in_force_on": ""}, "Enter the date of entry into force."),
    ({"in_force_on": (utcnow().date() + timedelta(days=3)).isoformat()}, "record it as signed until then"),
    ({"signed_on": "2016-09-01"}, "cannot enter into force before it is signed"),
    ({"discussions_started_on": "2016-04-01"}, "cannot come before the discussions started"),
    ({"status": "under_discussion"}, "no longer under discussion"),
    ({"signed_on": "2999-01-01", "status": "signed", "in_force_on": ""}, "cannot be in the future"),
    ({"kind": "extradition"}, "Not a valid choice"),
    ({"state": str(10**6)}, "Not a valid choice"),
])
def test_bad_agreements_are_refused(client, auth, users, changes, message):
    auth.login(users["editor"])
    response = post_form(client, "/agreements/new", form_data(**changes))
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Agreement)) == 0


def test_only_the_registry_keeps_the_registry(client, auth, users):
    agreement = add("NOR")
    for who in ("admin", "court", "focal_nl", "member_sn"):
        auth.login(users[who])
        assert client.get("/agreements/new").status_code == 404, who
        assert client.get(f"/agreements/{agreement.id}/edit").status_code == 404, who
        assert client.get(f"/agreements/{agreement.id}").status_code == 200, who
        auth.logout()


# -- confidentiality -------------------------------------------------------------------------------

def test_confidential_entries_for_the_court_and_the_state_concerned_only(client, auth, users):
    secret = add("NLD", AgreementKind.WITNESS_RELOCATION, AgreementStatus.SIGNED, confidential=True,
                 title="Relocation arrangement NL")
    add("NOR", title="Norway enforcement")
    seen = {}
    for who in ("admin", "editor", "court", "focal_nl", "member_nl", "focal_sn", "member_sn"):
        auth.login(users[who])
        listing = client.get("/agreements/").get_data(as_text=True)
        export = client.get("/agreements/export.csv").get_data(as_text=True)
        seen[who] = (client.get(f"/agreements/{secret.id}").status_code, "Relocation arrangement NL" in export,
                     f"/agreements/{secret.id}\"" in listing)
        assert "Norway" in export, who
        auth.logout()
    assert seen == {
        "admin": (404, False, False), "editor": (200, True, True), "court": (200, True, True),
        "focal_nl": (200, True, True), "member_nl": (200, True, True),
        "focal_sn": (404, False, False), "member_sn": (404, False, False),
    }


# -- figures per regional group --------------------------------------------------------------------

def test_figures_count_states_per_group_and_kind_confidential_ones_included(app):
    add("NOR")
    add("AUT")
    add("AUT", signed_on=date(2005, 10, 27))  # a second agreement of the same State counts once
    add("SRB", status=AgreementStatus.SIGNED)
    add("MLI", confidential=True)
    add("COL", status=AgreementStatus.UNDER_DISCUSSION)
    add("SEN", AgreementKind.WITNESS_RELOCATION, confidential=True)
    groups = {g.group: g for g in services.figures(db.session)}
    sentences = AgreementKind.ENFORCEMENT_OF_SENTENCES
    weog = groups[RegionalGroup.WEOG].cells[sentences]
    assert (weog.concluded, weog.in_force, weog.under_discussion) == (2, 2, 0)
    eastern = groups[RegionalGroup.EASTERN_EUROPEAN].cells[sentences]
    assert (eastern.concluded, eastern.in_force) == (1, 0)
    assert groups[RegionalGroup.AFRICAN].cells[sentences].concluded == 1
    assert groups[RegionalGroup.AFRICAN].cells[AgreementKind.WITNESS_RELOCATION].concluded == 1
    grulac = groups[RegionalGroup.GRULAC].cells[sentences]
    assert (grulac.concluded, grulac.under_discussion) == (0, 1)
    assert groups[RegionalGroup.ASIA_PACIFIC].cells[sentences].concluded == 0
    # The group sizes come from the States data file (withdrawn States left out).
    assert groups[RegionalGroup.AFRICAN].states == 33 and groups[RegionalGroup.WEOG].states == 25
    totals = services.totals(groups.values())
    assert (totals[sentences].concluded, totals[sentences].in_force, totals[sentences].under_discussion) == (4, 3, 1)


def test_figures_on_the_page_never_name_confidential_states(client, auth, users):
    add("MLI", confidential=True, title="Mali secret")
    auth.login(users["member_nl"])
    html = client.get("/agreements/").get_data(as_text=True)
    assert "1 of 33" in html and "Mali secret" not in html and "1 agreement" not in html
    assert "0 agreements" in html


# -- documents -------------------------------------------------------------------------------------

def test_documents_upload_download_link_and_removal(app, client, auth, users):
    agreement = add("NLD", confidential=True)
    page_path = f"/agreements/{agreement.id}"
    auth.login(users["editor"])
    token = csrf_from(client.get(page_path).get_data(as_text=True))
    response = client.post(f"{page_path}/files", data={"csrf_token": token, "title": "Signed text",
                                                        "file": (io.BytesIO(PDF), "agreement.pdf")},
                           content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    item = db.session.scalar(select(AgreementFile))
    stored = Path(app.instance_path) / "agreements_files" / item.stored_name
    assert stored.read_bytes() == PDF and item.content_type == "application/pdf" and item.size == len(PDF)

    download = client.get(f"{page_path}/files/{item.id}")
    assert download.status_code == 200 and download.data == PDF
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert "sandbox" in download.headers["Content-Security-Policy"]
    download.close()

    refused = {
        "exe": (io.BytesIO(b"MZ\x90\x00 not a pdf"), "agreement.pdf"),
        "type": (io.BytesIO(b"hello"), "agreement.txt"),
        "empty": (io.BytesIO(b""), "empty.pdf"),
    }
    messages = {"exe": "not a valid PDF document", "type": "Only PDF, DOCX or ODT",
                "empty": "The file is empty."}
    for name, upload in refused.items():
        response = client.post(f"{page_path}/files", data={"csrf_token": token, "title": name, "file": upload},
                               content_type="multipart/form-data")
        assert response.status_code == 400, name
        assert messages[name] in response.get_data(as_text=True), name
    big = _large_upload(client, f"{page_path}/files", token, b"%PDF-" + b"0" * (10 * 1024 * 1024))
    assert big.status_code == 400 and "larger than 10 MiB" in big.get_data(as_text=True)
    bad_link = client.post(f"{page_path}/files", data={"csrf_token": token, "title": "Text",
                                                       "url": "http://www.icc-cpi.int/x"})
    assert bad_link.status_code == 400 and "https://" in bad_link.get_data(as_text=True)
    link = client.post(f"{page_path}/files", data={"csrf_token": token, "title": "Published text",
                                                   "url": "https://www.icc-cpi.int/agreement"})
    assert link.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(AgreementFile)) == 2
    assert len(list(stored.parent.iterdir())) == 1  # refused uploads left nothing behind
    auth.logout()

    # The State concerned downloads; another State does not even learn the document exists.
    auth.login(users["member_nl"])
    own = client.get(f"{page_path}/files/{item.id}")
    assert own.status_code == 200 and own.data == PDF
    own.close()
    auth.logout()
    auth.login(users["member_sn"])
    assert client.get(f"{page_path}/files/{item.id}").status_code == 404
    auth.logout()

    auth.login(users["editor"])
    token = csrf_from(client.get(page_path).get_data(as_text=True))
    assert client.post(f"{page_path}/files/{item.id}/delete", data={"csrf_token": token}).status_code == 302
    assert not stored.exists()
    assert [len(audit(f"agreements.file.{a}")) for a in ("add", "download", "delete")] == [2, 2, 1]


def _large_upload(client, path: str, csrf: str, data: bytes):  # type: ignore[no-untyped-def]
    """Werkzeug's test client spools a large body to a temporary file it never closes: build
    the environ here and close it (a test-client artefact, as in test_questionnaire_answers)."""
    from werkzeug.test import EnvironBuilder

    builder = EnvironBuilder(path=path, method="POST", data={"csrf_token": csrf, "title": "Big",
                                                             "file": (io.BytesIO(data), "big.pdf")})
    environ = builder.get_environ()
    try:
        return client.open(environ)
    finally:
        environ["wsgi.input"].close()
        builder.close()


# -- export ----------------------------------------------------------------------------------------

def test_csv_export_follows_the_filters_and_neutralises_formulas(client, auth, users):
    add("NOR", notes="=cmd|' /C calc'!A0")
    add("SEN", AgreementKind.INTERIM_RELEASE, AgreementStatus.UNDER_DISCUSSION)
    auth.login(users["member_nl"])
    response = client.get("/agreements/export.csv?kind=enforcement_of_sentences")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    [row] = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert row["state_code"] == "NOR" and row["notes"].startswith("'=") and row["regional_group"] == "weog"
    grouped = client.get("/agreements/export.csv?group=african").get_data(as_text=True)
    assert [r["state_code"] for r in csv.DictReader(io.StringIO(grouped))] == ["SEN"]
    [first, _second] = audit("agreements.agreement.export")
    assert json.loads(first.details) == {"kind": "enforcement_of_sentences", "status": "", "regional_group": "",
                                         "state": "", "count": 1}
    assert client.get("/agreements/export.csv?status=lost").status_code == 400
