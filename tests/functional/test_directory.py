"""Directory of national contact points: every member reads, a State's focal point edits its own
State's entries only, the Secretariat edits any; search, CSV export, validation and audit."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from cooperation.audit.models import AuditEvent
from cooperation.db import utcnow
from cooperation.extensions import db
from cooperation_directory.models import ContactPoint, Topic
from tests.conftest import csrf_from
from tests.factories import party


def add_contact(code: str, *, topic: Topic = Topic.ASSET_TRACING_FREEZING, authority: str = "Central Authority",
                email: str = "central@justice.example", confirmed_days_ago: int | None = 1,
                **values: str) -> ContactPoint:
    now = utcnow()
    confirmed = None if confirmed_days_ago is None else now - timedelta(days=confirmed_days_ago)
    contact = ContactPoint(party_id=party(code).id, topic=topic, authority=authority, email=email,
                           last_confirmed_at=confirmed, created_at=now, updated_at=now, **values)
    db.session.add(contact)
    db.session.commit()
    return contact


def valid_form(**changes: str) -> dict[str, str]:
    data = {
        "topic": "asset_tracing_freezing", "authority": "Asset Recovery Office",
        "person_name": "Anna de Vries", "position": "Head of unit", "email": "aro@om.example",
        "phone": "+31 70 123 4567", "languages": "English, Dutch",
        "secure_channel": "Encrypted e-mail on request", "urgent_phone": "+31 6 1234 5678",
        "urgent_email": "duty@om.example", "urgent_hours": "24/7", "notes": "",
    }
    data.update(changes)
    return data


def post_form(client, path: str, data: dict[str, str]):  # type: ignore[no-untyped-def]
    page = client.get(path)
    assert page.status_code == 200, path
    return client.post(path, data={**data, "csrf_token": csrf_from(page.get_data(as_text=True))})


def audit_events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.seq)))


def contact_count() -> int:
    return db.session.scalar(select(func.count()).select_from(ContactPoint)) or 0


# -- reading ---------------------------------------------------------------------------------------

def test_anonymous_visitor_is_sent_to_sign_in(client, users):
    response = client.get("/directory/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_member_of_another_state_reads_but_cannot_edit(client, auth, users):
    contact = add_contact("NLD", authority="Openbaar Ministerie", person_name="Anna de Vries",
                          urgent_phone="+31 6 1234 5678", urgent_hours="24/7")
    auth.login(users["member_sn"])
    listing = client.get("/directory/")
    assert listing.status_code == 200
    html = listing.get_data(as_text=True)
    assert "Openbaar Ministerie" in html and "Anna de Vries" in html and "24/7" in html
    assert 'href="/directory/"' in html  # the navigation item
    assert 'href="/directory/states/SEN"' in html  # one's own State's page, even without entries
    page = client.get("/directory/states/NLD").get_data(as_text=True)
    assert "Openbaar Ministerie" in page
    assert f"/directory/contacts/{contact.id}/edit" not in page and "Add a contact point" not in page
    # A member holds no manage permission at all: every editing page is a 404.
    assert client.get(f"/directory/contacts/{contact.id}/edit").status_code == 404
    assert client.get("/directory/states/SEN/contacts/new").status_code == 404
    assert client.get("/directory/states/XXX").status_code == 404


def test_registry_and_court_read_the_directory(client, auth, users):
    add_contact("SEN", authority="Ministère de la Justice")
    auth.login(users["court"])
    assert "Ministère de la Justice" in client.get("/directory/").get_data(as_text=True)


# -- managing --------------------------------------------------------------------------------------

def test_focal_point_creates_edits_and_deletes_own_state_entries(client, auth, users):
    focal = users["focal_nl"]
    auth.login(focal)
    response = post_form(client, "/directory/states/NLD/contacts/new", valid_form())
    assert response.status_code == 302 and response.headers["Location"].endswith("/directory/states/NLD")
    contact = db.session.scalar(select(ContactPoint))
    assert contact is not None and contact.party.code == "NLD"
    assert (contact.authority, contact.email, contact.urgent_hours) == ("Asset Recovery Office", "aro@om.example", "24/7")
    assert contact.updated_by_id == focal.id and contact.last_confirmed_at is not None
    contact_id = contact.id

    page = client.get("/directory/states/NLD").get_data(as_text=True)
    assert f"/directory/contacts/{contact.id}/edit" in page

    response = post_form(client, f"/directory/contacts/{contact.id}/edit",
                         valid_form(topic="arrest_surrender", phone="+31 70 999 0000"))
    assert response.status_code == 302
    db.session.refresh(contact)
    assert contact.topic == Topic.ARREST_SURRENDER and contact.phone == "+31 70 999 0000"

    response = post_form(client, f"/directory/contacts/{contact.id}/delete", {})
    assert response.status_code == 302
    assert contact_count() == 0

    created, updated, deleted = (audit_events(f"directory.contact.{a}") for a in ("create", "update", "delete"))
    assert len(created) == len(updated) == len(deleted) == 1
    assert json.loads(updated[0].details)["fields"] == ["phone", "topic"]
    for event in (*created, *updated, *deleted):
        assert event.actor_id == focal.id and event.target_id == str(contact_id)
        # Ids and field names only: no contact data in the audit log.
        assert "aro@om.example" not in event.details and "Anna" not in event.details
        assert "+31" not in event.details


def test_focal_point_of_another_state_gets_404_and_changes_nothing(client, auth, users):
    contact = add_contact("NLD", authority="Openbaar Ministerie")
    auth.login(users["focal_sn"])
    edit_page = f"/directory/contacts/{contact.id}/edit"
    assert client.get(edit_page).status_code == 404
    assert client.get(f"/directory/contacts/{contact.id}/delete").status_code == 404
    assert client.get("/directory/states/NLD/contacts/new").status_code == 404
    # A forged POST with a valid token (taken from the user's own State's page) is refused too.
    token = csrf_from(client.get("/directory/states/SEN/contacts/new").get_data(as_text=True))
    assert client.post(edit_page, data={**valid_form(authority="Hijacked"), "csrf_token": token}).status_code == 404
    assert client.post(f"/directory/contacts/{contact.id}/delete", data={"csrf_token": token}).status_code == 404
    assert client.post("/directory/states/NLD/contacts/new",
                       data={**valid_form(), "csrf_token": token}).status_code == 404
    assert client.post("/directory/states/NLD/confirm",
                       data={"confirm": "y", "csrf_token": token}).status_code == 404
    db.session.refresh(contact)
    assert contact.authority == "Openbaar Ministerie" and contact_count() == 1
    assert not db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action.startswith("directory.contact.")))
    # Reading stays open: the directory is shared among all members.
    page = client.get("/directory/states/NLD").get_data(as_text=True)
    assert "Openbaar Ministerie" in page and edit_page not in page


def test_secretariat_administrator_edits_any_state(client, auth, users):
    contact = add_contact("SEN", authority="Ministère de la Justice")
    auth.login(users["admin"])
    # The Secretariat reaches a State without entries through the State filter.
    assert 'href="/directory/states/NLD"' in client.get("/directory/?state=NLD").get_data(as_text=True)
    response = post_form(client, f"/directory/contacts/{contact.id}/edit",
                         valid_form(authority="Direction des Affaires criminelles et des Grâces"))
    assert response.status_code == 302
    db.session.refresh(contact)
    assert contact.authority == "Direction des Affaires criminelles et des Grâces"
    assert contact.updated_by_id == users["admin"].id
    assert post_form(client, "/directory/states/NLD/contacts/new", valid_form()).status_code == 302
    assert contact_count() == 2


def test_confirm_current_clears_the_to_be_confirmed_flag(client, auth, users):
    old = add_contact("NLD", authority="Openbaar Ministerie", confirmed_days_ago=400)
    fresh = add_contact("NLD", authority="FIU Nederland", topic=Topic.GENERAL_COOPERATION, confirmed_days_ago=30)
    never = add_contact("NLD", authority="Politie", topic=Topic.ARREST_SURRENDER, confirmed_days_ago=None)
    other = add_contact("SEN", authority="Ministère de la Justice", confirmed_days_ago=400)
    auth.login(users["focal_nl"])
    page = client.get("/directory/states/NLD").get_data(as_text=True)
    flag = '<strong class="to-confirm">To be confirmed</strong>'
    assert page.count(flag) == 2  # the 400-day-old and the never confirmed one

    listing = client.get("/directory/?to_confirm=y").get_data(as_text=True)
    assert "Openbaar Ministerie" in listing and "Politie" in listing and "Ministère de la Justice" in listing
    assert "FIU Nederland" not in listing

    token = csrf_from(page)
    refused = client.post("/directory/states/NLD/confirm", data={"csrf_token": token})
    assert refused.status_code == 400
    assert "Tick the box to confirm" in refused.get_data(as_text=True)
    assert not audit_events("directory.contact.confirm")

    response = client.post("/directory/states/NLD/confirm", data={"confirm": "y", "csrf_token": token})
    assert response.status_code == 302
    for contact in (old, fresh, never, other):
        db.session.refresh(contact)
    assert not old.needs_confirmation() and not never.needs_confirmation()
    assert other.needs_confirmation()  # another State's entry is untouched
    assert flag not in client.get("/directory/states/NLD").get_data(as_text=True)
    [event] = audit_events("directory.contact.confirm")
    assert event.target_type == "party" and event.target_id == str(party("NLD").id)
    assert sorted(json.loads(event.details)["contact_ids"]) == sorted([old.id, fresh.id, never.id])


def test_confirm_without_entries_is_refused(client, auth, users):
    auth.login(users["focal_sn"])
    token = csrf_from(client.get("/directory/states/SEN").get_data(as_text=True))
    response = client.post("/directory/states/SEN/confirm", data={"confirm": "y", "csrf_token": token})
    assert response.status_code == 400
    assert "no entries to confirm" in response.get_data(as_text=True)
    assert not audit_events("directory.contact.confirm")


# -- bad input -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("changes", "message"), [
    ({"email": "not-an-address"}, "Enter a valid e-mail address"),
    ({"urgent_email": "duty@"}, "Enter a valid e-mail address"),
    ({"authority": "", "email": ""}, "Enter the name of the authority or office."),
    ({"authority": "   "}, "Enter the name of the authority or office."),
    ({"email": ""}, "Enter an e-mail address."),
    ({"authority": "A" * 201}, "Field cannot be longer than 200 characters."),
    ({"notes": "n" * 2001}, "Field cannot be longer than 2000 characters."),
    ({"phone": "call me maybe"}, "Enter a telephone number"),
    ({"topic": "espionage"}, "Not a valid choice"),
])
def test_bad_input_is_refused_and_changes_nothing(client, auth, users, changes, message):
    contact = add_contact("NLD", authority="Openbaar Ministerie", email="om@om.example")
    auth.login(users["focal_nl"])
    created = post_form(client, "/directory/states/NLD/contacts/new", valid_form(**changes))
    assert created.status_code == 400
    assert message in created.get_data(as_text=True)
    assert contact_count() == 1

    edited = post_form(client, f"/directory/contacts/{contact.id}/edit", valid_form(**changes))
    assert edited.status_code == 400
    assert message in edited.get_data(as_text=True)
    db.session.refresh(contact)
    assert (contact.authority, contact.email) == ("Openbaar Ministerie", "om@om.example")
    assert not audit_events("directory.contact.create") and not audit_events("directory.contact.update")


def test_missing_csrf_token_is_refused(client, auth, users):
    auth.login(users["focal_nl"])
    response = client.post("/directory/states/NLD/contacts/new", data=valid_form())
    assert response.status_code == 400 and contact_count() == 0


# -- search and export -----------------------------------------------------------------------------

@pytest.fixture
def sample(app):  # type: ignore[no-untyped-def]
    return {
        "nl_assets": add_contact("NLD", authority="Openbaar Ministerie", person_name="Anna de Vries"),
        "nl_arrest": add_contact("NLD", topic=Topic.ARREST_SURRENDER, authority="Koninklijke Marechaussee"),
        "sn_assets": add_contact("SEN", authority="CENTIF", person_name="Moussa Diop"),
        "sn_general": add_contact("SEN", topic=Topic.GENERAL_COOPERATION, authority="Ministère des Affaires étrangères"),
        "nz_general": add_contact("NZL", topic=Topic.GENERAL_COOPERATION, authority="Crown Law 100% Office"),
    }


def listed(client, query: str) -> set[str]:  # type: ignore[no-untyped-def]
    response = client.get(f"/directory/?{query}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    names = ("Openbaar Ministerie", "Koninklijke Marechaussee", "CENTIF",
             "Ministère des Affaires étrangères", "Crown Law 100% Office")
    return {n for n in names if n in html}


def test_search_filters(client, auth, users, sample):
    auth.login(users["member_nl"])
    assert len(listed(client, "")) == 5
    assert listed(client, "group=african") == {"CENTIF", "Ministère des Affaires étrangères"}
    assert listed(client, "group=weog&topic=general_cooperation") == {"Crown Law 100% Office"}
    assert listed(client, "state=NLD") == {"Openbaar Ministerie", "Koninklijke Marechaussee"}
    assert listed(client, "topic=asset_tracing_freezing") == {"Openbaar Ministerie", "CENTIF"}
    # Text search on authority or person, case-insensitive.
    assert listed(client, "q=marechaussee") == {"Koninklijke Marechaussee"}
    assert listed(client, "q=MOUSSA") == {"CENTIF"}
    # LIKE wildcards in the input are taken literally.
    assert listed(client, "q=100%25") == {"Crown Law 100% Office"}
    assert listed(client, "q=%25") == {"Crown Law 100% Office"}
    assert listed(client, "q=_") == set()
    assert client.get("/directory/?topic=espionage").status_code == 400
    assert client.get("/directory/?state=ZZZ").status_code == 400


def test_csv_export_follows_the_filters_and_neutralises_formulas(client, auth, users, sample):
    add_contact("SEN", authority="=HYPERLINK(\"http://evil.example\",\"click\")", email="x@evil.example",
                person_name="@SUM(A1)", notes="-2+3", languages="+cmd", confirmed_days_ago=400)
    auth.login(users["member_nl"])
    response = client.get("/directory/export.csv?state=SEN")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="contact-points-')
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert {r["state_code"] for r in rows} == {"SEN"} and len(rows) == 3
    by_authority = {r["authority"]: r for r in rows}
    assert by_authority["CENTIF"]["person_name"] == "Moussa Diop"
    assert by_authority["CENTIF"]["regional_group"] == "african"
    assert by_authority["CENTIF"]["to_be_confirmed"] == "no"
    evil = by_authority["'=HYPERLINK(\"http://evil.example\",\"click\")"]
    assert evil["person_name"] == "'@SUM(A1)" and evil["notes"] == "'-2+3" and evil["working_languages"] == "'+cmd"
    assert evil["to_be_confirmed"] == "yes"
    for row in rows:
        assert not any(value.startswith(("=", "+", "-", "@")) for value in row.values())

    filtered = client.get("/directory/export.csv?topic=general_cooperation&group=weog").get_data(as_text=True)
    assert [r["authority"] for r in csv.DictReader(io.StringIO(filtered))] == ["Crown Law 100% Office"]
    # Exports of contact data are traced, without the data itself.
    events = audit_events("directory.contact.export")
    assert len(events) == 2
    assert json.loads(events[0].details)["state"] == "SEN" and json.loads(events[0].details)["count"] == 3
    assert client.get("/directory/export.csv?group=nowhere").status_code == 400
