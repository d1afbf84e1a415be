"""The Court's entries in the directory of contact points: the Registry and the Office of the
Prosecutor have pages like a State's (not the Secretariat of the Assembly, which handles no
cooperation request); the Registry editor keeps the Registry's entries, the Secretariat any
State's and the Court's; Court members, as State members, manage nothing; another party's entries
stay 404 for editing. Search, the State filter (with the Court's organs as options), the "The
Court" group, the CSV export and the confirmation flow include them; the States' entries come
first."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from sqlalchemy import func, select

from cooperation.audit.models import AuditEvent
from cooperation.extensions import db
from cooperation_directory.models import ContactPoint, Topic
from tests.conftest import csrf_from
from tests.factories import party
from tests.functional.test_directory import add_contact, audit_events, contact_count, post_form

COURT_FORM = {
    "topic": "arrest_surrender",
    "authority": "Registry and Office of the Prosecutor, joint channel for travel information",
    "person_name": "", "position": "", "email": "travel@icc-cpi.example.org", "phone": "",
    "languages": "English, French", "secure_channel": "", "urgent_phone": "",
    "urgent_email": "Travel-Duty@icc-cpi.example.org", "urgent_hours": "24/7", "notes": "",
}


def directory_audit_count() -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action.startswith("directory.contact."))) or 0


# -- who manages the Court's entries ------------------------------------------------------------

def test_registry_editor_keeps_the_registrys_entries(client, auth, users):
    editor = users["editor"]
    auth.login(editor)
    listing = client.get("/directory/").get_data(as_text=True)
    assert 'href="/directory/states/ICC-REG"' in listing and "your organisation" in listing
    page = client.get("/directory/states/ICC-REG")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Contact points of International Criminal Court — Registry" in html
    assert "<p>The Court</p>" in html and "Add a contact point" in html

    form = client.get("/directory/states/ICC-REG/contacts/new").get_data(as_text=True)
    assert "Organ of the Court: International Criminal Court — Registry" in form
    response = post_form(client, "/directory/states/ICC-REG/contacts/new", COURT_FORM)
    assert response.status_code == 302 and response.headers["Location"].endswith("/directory/states/ICC-REG")
    contact = db.session.scalar(select(ContactPoint))
    assert contact.party.code == "ICC-REG" and contact.topic == Topic.ARREST_SURRENDER
    assert contact.urgent_email == "travel-duty@icc-cpi.example.org" and contact.updated_by_id == editor.id
    assert not contact.needs_confirmation()

    assert post_form(client, f"/directory/contacts/{contact.id}/edit",
                     {**COURT_FORM, "urgent_phone": "+31 70 000 0000"}).status_code == 302
    db.session.refresh(contact)
    assert contact.urgent_phone == "+31 70 000 0000"
    second = post_form(client, "/directory/states/ICC-REG/contacts/new",
                       {**COURT_FORM, "topic": "asset_tracing_freezing", "authority": "Financial investigations"})
    assert second.status_code == 302
    assert post_form(client, f"/directory/contacts/{contact.id}/delete", {}).status_code == 302
    assert contact_count() == 1

    created, updated, deleted = (audit_events(f"directory.contact.{a}") for a in ("create", "update", "delete"))
    assert (len(created), len(updated), len(deleted)) == (2, 1, 1)
    for event in (*created, *updated, *deleted):
        assert event.actor_id == editor.id
        assert json.loads(event.details)["party_id"] == party("ICC-REG").id
        assert "icc-cpi.example.org" not in event.details and "+31" not in event.details


def test_registry_editor_gets_404_on_every_other_partys_entries(client, auth, users):
    otp = add_contact("ICC-OTP", authority="Office of the Prosecutor duty desk", topic=Topic.ARREST_SURRENDER)
    nld = add_contact("NLD", authority="Openbaar Ministerie")
    auth.login(users["editor"])
    token = csrf_from(client.get("/directory/states/ICC-REG/contacts/new").get_data(as_text=True))
    for code in ("ICC-OTP", "NLD", "ASP-SEC"):
        assert client.get(f"/directory/states/{code}/contacts/new").status_code == 404
        assert client.post(f"/directory/states/{code}/contacts/new",
                           data={**COURT_FORM, "csrf_token": token}).status_code == 404
        assert client.post(f"/directory/states/{code}/confirm",
                           data={"confirm": "y", "csrf_token": token}).status_code == 404
    for contact in (otp, nld):
        assert client.get(f"/directory/contacts/{contact.id}/edit").status_code == 404
        assert client.post(f"/directory/contacts/{contact.id}/edit",
                           data={**COURT_FORM, "csrf_token": token}).status_code == 404
        assert client.post(f"/directory/contacts/{contact.id}/delete", data={"csrf_token": token}).status_code == 404
    assert contact_count() == 2 and directory_audit_count() == 0
    # Reading stays open, without the editing links.
    page = client.get("/directory/states/ICC-OTP").get_data(as_text=True)
    assert "Office of the Prosecutor duty desk" in page and f"/directory/contacts/{otp.id}/edit" not in page
    assert "Add a contact point" not in page


@pytest.mark.parametrize("who", ["court", "member_nl", "focal_nl"])
def test_court_members_and_states_cannot_manage_the_courts_entries(client, auth, users, who):
    registry = add_contact("ICC-REG", authority="Registry duty officer", topic=Topic.ARREST_SURRENDER)
    otp = add_contact("ICC-OTP", authority="Office of the Prosecutor duty desk", topic=Topic.ARREST_SURRENDER)
    auth.login(users[who])
    for code in ("ICC-REG", "ICC-OTP"):
        page = client.get(f"/directory/states/{code}")
        assert page.status_code == 200 and "Add a contact point" not in page.get_data(as_text=True)
        assert client.get(f"/directory/states/{code}/contacts/new").status_code == 404
    for contact in (registry, otp):
        assert client.get(f"/directory/contacts/{contact.id}/edit").status_code == 404
        assert client.get(f"/directory/contacts/{contact.id}/delete").status_code == 404
    token = csrf_from(client.get("/account/security").get_data(as_text=True))
    assert client.post("/directory/states/ICC-OTP/confirm",
                       data={"confirm": "y", "csrf_token": token}).status_code == 404
    assert directory_audit_count() == 0
    if who == "court":  # the Office of the Prosecutor's member is pointed to its organisation's page
        listing = client.get("/directory/").get_data(as_text=True)
        assert 'href="/directory/states/ICC-OTP"' in listing and "your organisation" in listing


def test_secretariat_keeps_the_courts_entries_but_the_secretariat_has_none(client, auth, users):
    auth.login(users["admin"])
    # Reached through the State filter, as a State without entries.
    listing = client.get("/directory/?state=ICC-OTP").get_data(as_text=True)
    assert 'href="/directory/states/ICC-OTP"' in listing
    assert post_form(client, "/directory/states/ICC-OTP/contacts/new",
                     {**COURT_FORM, "authority": "Office of the Prosecutor duty desk"}).status_code == 302
    assert post_form(client, "/directory/states/ICC-REG/contacts/new", COURT_FORM).status_code == 302
    assert {c.party.code for c in db.session.scalars(select(ContactPoint))} == {"ICC-OTP", "ICC-REG"}
    # The Secretariat of the Assembly is not in the directory: no page, nothing to add, no option.
    assert client.get("/directory/states/ASP-SEC").status_code == 404
    assert client.get("/directory/states/ASP-SEC/contacts/new").status_code == 404
    assert client.get("/directory/?state=ASP-SEC").status_code == 400
    assert 'href="/directory/states/ASP-SEC"' not in client.get("/directory/").get_data(as_text=True)


def test_confirming_the_courts_entries(client, auth, users):
    old = add_contact("ICC-REG", authority="Registry duty officer", topic=Topic.ARREST_SURRENDER, confirmed_days_ago=400)
    never = add_contact("ICC-REG", authority="Registry cooperation section", confirmed_days_ago=None)
    otp = add_contact("ICC-OTP", authority="Office of the Prosecutor duty desk", confirmed_days_ago=400)
    auth.login(users["editor"])
    page = client.get("/directory/states/ICC-REG").get_data(as_text=True)
    assert page.count('<strong class="to-confirm">To be confirmed</strong>') == 2
    token = csrf_from(page)
    assert client.post("/directory/states/ICC-REG/confirm", data={"csrf_token": token}).status_code == 400
    response = client.post("/directory/states/ICC-REG/confirm", data={"confirm": "y", "csrf_token": token})
    assert response.status_code == 302
    for contact in (old, never, otp):
        db.session.refresh(contact)
    assert not old.needs_confirmation() and not never.needs_confirmation()
    assert otp.needs_confirmation()  # the other organ's entry is untouched
    [event] = audit_events("directory.contact.confirm")
    assert event.target_id == str(party("ICC-REG").id) and event.actor_id == users["editor"].id
    assert sorted(json.loads(event.details)["contact_ids"]) == sorted([old.id, never.id])


def test_confirming_without_entries_is_refused_for_the_court_too(client, auth, users):
    auth.login(users["editor"])
    token = csrf_from(client.get("/directory/states/ICC-REG").get_data(as_text=True))
    response = client.post("/directory/states/ICC-REG/confirm", data={"confirm": "y", "csrf_token": token})
    assert response.status_code == 400 and "no entries to confirm" in response.get_data(as_text=True)


# -- search, filters and export -----------------------------------------------------------------

@pytest.fixture
def mixed(app):  # type: ignore[no-untyped-def]
    return {
        "registry": add_contact("ICC-REG", topic=Topic.ARREST_SURRENDER, authority="Registry duty officer",
                                urgent_email="duty@icc-cpi.example.org", urgent_hours="24/7"),
        "otp": add_contact("ICC-OTP", authority="Office of the Prosecutor duty desk"),
        "nl": add_contact("NLD", topic=Topic.ARREST_SURRENDER, authority="Koninklijke Marechaussee"),
        "zw": add_contact("ZMB", authority="Zambia Central Authority"),
        "al": add_contact("ALB", authority="Albania Central Authority"),
    }


def authorities_in_order(html: str) -> list[str]:
    names = ("Albania Central Authority", "Koninklijke Marechaussee", "Zambia Central Authority",
             "Office of the Prosecutor duty desk", "Registry duty officer")
    return sorted((n for n in names if n in html), key=html.index)


def test_the_courts_entries_are_listed_after_the_states(client, auth, users, mixed):
    auth.login(users["member_sn"])
    html = client.get("/directory/").get_data(as_text=True)
    assert authorities_in_order(html) == ["Albania Central Authority", "Koninklijke Marechaussee",
                                          "Zambia Central Authority", "Office of the Prosecutor duty desk",
                                          "Registry duty officer"]
    assert "International Criminal Court — Registry" in html and 'href="/directory/states/ICC-REG"' in html
    assert "State or organ of the Court" in html


def test_filters_include_the_court(client, auth, users, mixed):
    auth.login(users["member_nl"])
    html = client.get("/directory/").get_data(as_text=True)
    state_select = re.search(r'<select id="state".*?</select>', html, re.S).group(0)
    assert '<optgroup label="The Court">' in state_select and '<optgroup label="States">' in state_select
    court_group = state_select.split('<optgroup label="The Court">')[1]
    assert 'value="ICC-OTP"' in court_group and 'value="ICC-REG"' in court_group
    assert 'value="ASP-SEC"' not in state_select
    assert '<option value="court">The Court</option>' in html

    assert authorities_in_order(client.get("/directory/?group=court").get_data(as_text=True)) == [
        "Office of the Prosecutor duty desk", "Registry duty officer"]
    assert authorities_in_order(client.get("/directory/?state=ICC-REG").get_data(as_text=True)) == [
        "Registry duty officer"]
    assert authorities_in_order(client.get("/directory/?group=weog").get_data(as_text=True)) == [
        "Koninklijke Marechaussee"]
    assert authorities_in_order(client.get("/directory/?topic=arrest_surrender").get_data(as_text=True)) == [
        "Koninklijke Marechaussee", "Registry duty officer"]
    chosen = client.get("/directory/?state=icc-otp")
    assert chosen.status_code == 400  # codes are options: exactly as listed


def test_csv_export_names_the_courts_organs_without_a_regional_group(client, auth, users, mixed):
    auth.login(users["member_nl"])
    response = client.get("/directory/export.csv?group=court")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["state_code"], r["state"], r["regional_group"]) for r in rows] == [
        ("ICC-OTP", "International Criminal Court — Office of the Prosecutor", ""),
        ("ICC-REG", "International Criminal Court — Registry", "")]
    assert rows[1]["urgent_email"] == "duty@icc-cpi.example.org"
    [event] = audit_events("directory.contact.export")
    assert json.loads(event.details)["regional_group"] == "court" and json.loads(event.details)["count"] == 2
    everything = list(csv.DictReader(io.StringIO(client.get("/directory/export.csv").get_data(as_text=True))))
    assert [r["state_code"] for r in everything] == ["ALB", "NLD", "ZMB", "ICC-OTP", "ICC-REG"]


def test_the_courts_page_in_french(client, auth, users, mixed):
    users["member_nl"].locale = "fr"
    db.session.commit()
    auth.login(users["member_nl"])
    html = client.get("/directory/states/ICC-REG").get_data(as_text=True)
    assert "Cour pénale internationale — Greffe" in html


# -- demo data ------------------------------------------------------------------------------------

def test_demo_seed_enters_the_courts_urgent_channel_once(app, users):
    from cooperation_directory import seed

    said: list[str] = []
    seed.seed_demo(db.session, said.append)
    seed.seed_demo(db.session, said.append)  # idempotent
    db.session.commit()
    [entry] = db.session.scalars(select(ContactPoint))
    assert entry.party.code == "ICC-REG" and entry.topic == Topic.ARREST_SURRENDER
    assert entry.urgent_email.endswith("@icc-cpi.example.org") and "fictitious" in entry.notes
    assert entry.updated_by_id == users["editor"].id and not entry.needs_confirmation()
    assert len(audit_events("directory.contact.create")) == 1 and len(said) == 1
