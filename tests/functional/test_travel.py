"""Travel reports (plugin `travel`): a State user's encrypted thread becomes a report that reaches
the Court and the designated Bureau focal points; content-free alerts go to every recipient and
to the directory's urgent channels for arrest and surrender (none when the directory is off);
who sees which report (other States and the Secretariat get 404); only the Court acknowledges
receipt (once) and records an outcome; recipients' first reading; refused requests change
nothing.

Threads are seeded through the threads services with real keys and a really encrypted and
signed envelope (tests/functional/test_threads_api_kit.py); the browser's side is
tests/browser/test_travel_browser.py."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable

import pytest
from sqlalchemy import func, select

from cooperation.accounts.models import User
from cooperation.audit.models import AuditEvent
from cooperation.audit.service import Actor
from cooperation.db import utcnow
from cooperation.extensions import db
from cooperation.membership.models import RegionalGroup
from cooperation.permissions import Role
from cooperation.threads import services as threads
from cooperation_travel.models import Outcome, RecipientKind, Report
from tests.conftest import AuthActions, CommittingClient, csrf_from
from tests.factories import make_user, party
from tests.functional.test_threads_api_kit import envelope, seed_keys

SYSTEM = Actor.system("test")
# The Court's urgent address for travel information (fictitious), kept in the directory.
COURT_DUTY = "travel-duty@icc-cpi.example.org"


# -- seeding ---------------------------------------------------------------------------------------

def seed_thread(reporter_id: int, member_ids: Iterable[int], parties: Iterable[str], *, message: bool = True,
                creator_id: int | None = None) -> str:
    """A thread created by `creator_id` (default: the reporter) with the parties taking part,
    the members' keys published, the create event naming them, and (if `message`) a first
    message of the reporter, encrypted and signed for real. Not committed."""
    session = db.session()
    creator = session.get(User, creator_id or reporter_id)
    members = list(dict.fromkeys([creator.id, reporter_id, *member_ids]))
    devices = {uid: seed_keys(uid) for uid in members}
    thread = threads.create_thread(session, creator, list(parties), SYSTEM)
    _, member = threads.membership(session, creator, thread.id)
    body = os.urandom(64)
    threads.append_event(session, creator, thread, member, threads.EventIn(
        seq=0, prev_hash=bytes(32), kind="create", device_id=devices[creator.id].device_id, body=body,
        signature=devices[creator.id].sign_event(body), users=tuple(members), meta=os.urandom(64), epoch=1,
        wraps=tuple(threads.WrapIn(uid, threads.current_generation(session, uid).generation, os.urandom(80))
                    for uid in members)), SYSTEM)
    if message:
        reporter = session.get(User, reporter_id)
        threads.post_message(session, reporter, thread, envelope(
            thread.id, 1, reporter_id, devices[reporter_id], b'{"v":1,"text":"report"}'))
    session.flush()
    return thread.id


def seed_report(reporter_id: int, member_ids: Iterable[int], parties: Iterable[str] = ("ICC-OTP", "ICC-REG")) -> int:
    """A registered report (through services.register, as the send view does). Not committed."""
    from cooperation_travel import services

    thread_id = seed_thread(reporter_id, member_ids, parties)
    reporter = db.session.get(User, reporter_id)
    return services.register(db.session, reporter, thread_id, SYSTEM).id


def designate(user: User, group: RegionalGroup = RegionalGroup.AFRICAN) -> None:
    from cooperation_noncooperation.models import FocalPointDesignation

    db.session.add(FocalPointDesignation(user_id=user.id, regional_group=group, designated_at=utcnow()))
    db.session.flush()


def contact(by: User, code: str, urgent_email: str, topic: str = "arrest_surrender") -> int:
    """A directory entry with an urgent address, entered by `by` through the directory's service
    (what its form calls: scoped to the parties `by` manages, audited): a State's focal point for
    its State, the Registry editor for the Court. Not committed."""
    from cooperation_directory import services as directory
    from cooperation_directory.models import Topic

    data = directory.ContactData(topic=Topic(topic), authority=f"Duty office {code}",
                                 email=f"office@{code.lower()}.example.org", urgent_email=urgent_email,
                                 urgent_hours="24/7")
    actor = Actor(by.id, by.email, by.party.code, "127.0.0.1")
    return directory.create(db.session, by, party(code), data, actor).id


def csrf(client) -> str:  # type: ignore[no-untyped-def]
    return csrf_from(client.get("/account/security").get_data(as_text=True))


def send(client, thread_id: object, token: str | None = None, raw: bytes | None = None):  # type: ignore[no-untyped-def]
    token = token if token is not None else csrf(client)
    headers = {"X-CSRFToken": token}
    if raw is not None:
        return client.post("/travel/reports", data=raw, headers={**headers, "Content-Type": "application/json"})
    return client.post("/travel/reports", json={"thread_id": thread_id}, headers=headers)


def reports() -> int:
    return int(db.session.scalar(select(func.count()).select_from(Report)) or 0)


def audit(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


def details(event: AuditEvent) -> dict[str, object]:
    return json.loads(event.details)


def recipients_of(report_id: int) -> dict[int, RecipientKind]:
    found = db.session.get(Report, report_id)
    db.session.refresh(found)
    return {r.user_id: r.kind for r in found.recipients}


def mail_to(mailbox) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {m["To"]: m for m in mailbox.messages}


@pytest.fixture
def world(users):  # type: ignore[no-untyped-def]
    """The `users` plus: Senegal's focal point designated as Bureau focal point for the African
    States, and directory entries with urgent channels."""
    designate(users["focal_sn"])
    contact(users["focal_nl"], "NLD", "duty@nl.example.org")
    contact(users["editor"], "ICC-REG", COURT_DUTY)  # the Court's joint Registry-OTP channel
    contact(users["focal_sn"], "SEN", "duty@sn.example.org")  # a focal point's State: never alerted
    contact(users["focal_nl"], "NLD", "general@nl.example.org", topic="general_cooperation")  # not arrest and surrender
    db.session.commit()
    return users


def members_for(users) -> list[int]:  # type: ignore[no-untyped-def]
    return [users[k].id for k in ("focal_nl", "court", "editor", "focal_sn")]


# -- sending ---------------------------------------------------------------------------------------

def test_report_reaches_court_focal_points_and_urgent_channels_with_content_free_mail(client, auth, world, mailbox):
    users = world
    thread_id = seed_thread(users["member_nl"].id, members_for(users), ["ICC-OTP", "ICC-REG", "SEN"])
    db.session.commit()
    auth.login(users["member_nl"])
    mailbox.clear()
    response = send(client, thread_id)
    assert response.status_code == 201, response.get_json()
    answer = response.get_json()
    report = db.session.get(Report, answer["id"])
    assert answer["url"] == f"/travel/reports/{report.id}" and answer["reference"] == report.reference
    assert report.reporting_party_id == party("NLD").id and report.reported_by_id == users["member_nl"].id
    # The Court's users and the focal point are recipients; the reporter's colleague is not.
    assert recipients_of(report.id) == {users["court"].id: RecipientKind.COURT,
                                        users["editor"].id: RecipientKind.COURT,
                                        users["focal_sn"].id: RecipientKind.FOCAL_POINT}
    assert all(r.alerted_at is not None for r in report.recipients) and report.urgent_channels == 2

    mails = mail_to(mailbox)
    assert set(mails) == {"court@otp.test", "editor@registry.test", "focal@sn.test",
                          "duty@nl.example.org", COURT_DUTY}
    for message in mails.values():
        body = mailbox.body(message)
        assert f"/travel/reports/{report.id}" in body
        # Nothing but the link: no thread id, State, person or reference.
        for leak in (thread_id, "Netherlands", "NLD", users["member_nl"].full_name, users["member_nl"].email,
                     report.reference, "SEN", "Senegal"):
            assert leak not in body and leak not in message["Subject"], leak
        assert re.findall(r"https?://\S+", body) == [f"http://localhost/travel/reports/{report.id}"] * 2

    sent = audit("travel.report.send")
    assert len(sent) == 1 and details(sent[0])["court_recipients"] == 2 and details(sent[0])["focal_points"] == 1
    alert = audit("travel.report.alert")[0]
    assert alert.outcome == "success" and details(alert)["urgent_channels"] == 2
    assert "example.org" not in str(alert.details)  # entry ids, never addresses


def test_the_courts_urgent_channels_entered_in_the_directory_are_alerted(app, users, mailbox):
    """End to end: the Registry editor enters the Court's urgent channel on the Registry's page of
    the directory, the Secretariat one for the Office of the Prosecutor (which has no
    administering role of its own); a State's report then alerts both addresses."""
    app.test_client_class = CommittingClient

    def enter(who: str, code: str, urgent_email: str, topic: str = "arrest_surrender") -> None:
        client = app.test_client()
        AuthActions(client).login(users[who])
        path = f"/directory/states/{code}/contacts/new"
        token = csrf_from(client.get(path).get_data(as_text=True))
        response = client.post(path, data={
            "topic": topic, "authority": "Joint channel for travel information", "email": f"office@{code.lower()}.example.org",
            "urgent_email": urgent_email, "urgent_hours": "24/7", "csrf_token": token})
        assert response.status_code == 302, response.get_data(as_text=True)

    enter("editor", "ICC-REG", COURT_DUTY)
    enter("admin", "ICC-OTP", "otp-duty@icc-cpi.example.org")
    enter("editor", "ICC-REG", "assets@icc-cpi.example.org", topic="asset_tracing_freezing")  # not for travel
    thread_id = seed_thread(users["member_nl"].id, members_for(users), ["ICC-OTP", "ICC-REG", "SEN"])
    db.session.commit()
    client = app.test_client()
    AuthActions(client).login(users["member_nl"])
    mailbox.clear()
    response = send(client, thread_id)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["urgent_channels"] == 2
    mails = mail_to(mailbox)
    assert {COURT_DUTY, "otp-duty@icc-cpi.example.org"} <= set(mails)
    assert "assets@icc-cpi.example.org" not in mails
    assert f"/travel/reports/{response.get_json()['id']}" in mailbox.body(mails[COURT_DUTY])


def test_without_the_directory_the_alert_goes_to_the_users_only(make_app, users, mailbox):
    app = make_app(enabled_plugins=("noncooperation", "travel"))
    app.test_client_class = CommittingClient
    client = app.test_client()
    designate(users["focal_sn"])
    contact(users["focal_nl"], "NLD", "duty@nl.example.org")
    contact(users["editor"], "ICC-REG", COURT_DUTY)
    thread_id = seed_thread(users["member_nl"].id, members_for(users), ["ICC-OTP", "ICC-REG", "SEN"])
    db.session.commit()
    AuthActions(client).login(users["member_nl"])
    mailbox.clear()
    response = send(client, thread_id)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["urgent_channels"] == 0
    assert set(mail_to(mailbox)) == {"court@otp.test", "editor@registry.test", "focal@sn.test"}
    page = client.get(response.get_json()["url"]).get_data(as_text=True)
    assert "Urgent channels alerted" not in page


def test_without_non_cooperation_there_are_no_focal_points_but_the_court_is_reached(make_app, users, mailbox):
    app = make_app(enabled_plugins=("directory", "travel"))
    app.test_client_class = CommittingClient
    client = app.test_client()
    designate(users["focal_sn"])
    thread_id = seed_thread(users["member_nl"].id, members_for(users), ["ICC-OTP", "ICC-REG", "SEN"])
    db.session.commit()
    AuthActions(client).login(users["member_nl"])
    response = send(client, thread_id)
    assert response.status_code == 201
    assert set(recipients_of(response.get_json()["id"])) == {users["court"].id, users["editor"].id}


def test_refused_sends_change_nothing_and_mail_nobody(client, auth, world, mailbox):
    users = world
    reporter = users["member_nl"]
    other = seed_thread(users["focal_nl"].id, [reporter.id, users["court"].id], ["ICC-OTP"])  # not the reporter's
    empty = seed_thread(reporter.id, [users["court"].id], ["ICC-OTP"], message=False)
    no_court = seed_thread(reporter.id, [users["focal_sn"].id], ["SEN"])
    good = seed_thread(reporter.id, [users["court"].id], ["ICC-OTP"])
    db.session.commit()
    auth.login(reporter)
    token = csrf(client)
    mailbox.clear()
    cases = {
        "no body": send(client, None, token, raw=b"not json"),
        "no id": send(client, None, token),
        "malformed id": send(client, "../../etc", token),
        "unknown thread": send(client, "0" * 32, token),
        "someone else's thread": send(client, other, token),
        "no message": send(client, empty, token),
        "no Court member": send(client, no_court, token),
    }
    for name, response in cases.items():
        assert response.status_code == 400, name
        assert response.get_json()["error"], name
    assert "no Court user" in cases["no Court member"].get_json()["error"]
    assert reports() == 0 and mailbox.messages == [] and audit("travel.report.send") == []
    # Without the CSRF token: refused too.
    assert client.post("/travel/reports", json={"thread_id": good}).status_code == 400
    assert reports() == 0
    # Sent once, then refused.
    assert send(client, good, token).status_code == 201
    again = send(client, good, token)
    assert again.status_code == 400 and "already" in again.get_json()["error"]
    assert reports() == 1 and len(audit("travel.report.send")) == 1


@pytest.mark.parametrize("who", ["court", "editor", "admin"])
def test_only_state_users_send_reports(client, auth, users, who):
    thread_id = seed_thread(users["member_nl"].id, [users["court"].id], ["ICC-OTP"])
    db.session.commit()
    auth.login(users[who])
    assert client.get("/travel/new").status_code == 404
    assert send(client, thread_id).status_code == 404
    assert reports() == 0


# -- who sees what -----------------------------------------------------------------------------------

def test_who_sees_a_report(client, auth, world):
    users = world
    report_id = seed_report(users["member_nl"].id, members_for(users), ["ICC-OTP", "ICC-REG", "SEN"])
    outsider = make_user("BRA", Role.STATE_FOCAL_POINT, "focal@br.example.org")
    db.session.commit()
    path = f"/travel/reports/{report_id}"
    expected = {"member_nl": 200, "focal_nl": 200, "court": 200, "editor": 200, "focal_sn": 200,
                "member_sn": 404, "admin": 404}
    for who, status in expected.items():
        auth.login(users[who])
        assert client.get(path).status_code == status, who
        listing = client.get("/travel/")
        assert listing.status_code == (404 if who == "admin" else 200), who
        if status == 200:
            assert f'href="{path}"' in listing.get_data(as_text=True), who
        elif who != "admin":
            assert f'href="{path}"' not in listing.get_data(as_text=True), who
        auth.logout()
    auth.login(outsider)
    assert client.get(path).status_code == 404
    token = csrf(client)
    for action in ("read", "acknowledge", "outcome"):
        assert client.post(f"{path}/{action}", data={"csrf_token": token, "outcome": "other"},
                           headers={"X-CSRFToken": token}).status_code == 404, action
    assert db.session.get(Report, report_id).acknowledged_at is None


def test_the_secretariat_has_no_travel_pages(client, auth, users):
    auth.login(users["admin"])
    assert "Travel reports" not in client.get("/dashboard").get_data(as_text=True)
    for path in ("/travel/", "/travel/new"):
        assert client.get(path).status_code == 404


def test_report_page_shows_the_routing_record_never_content(client, auth, world):
    users = world
    report_id = seed_report(users["member_nl"].id, members_for(users), ["ICC-OTP", "ICC-REG", "SEN"])
    db.session.commit()
    auth.login(users["focal_nl"])
    page = client.get(f"/travel/reports/{report_id}").get_data(as_text=True)
    report = db.session.get(Report, report_id)
    assert report.reference in page and "Awaiting acknowledgement by the Court" in page
    for user in (users["court"], users["editor"], users["focal_sn"]):
        assert user.full_name in page
    assert page.count("Not yet") == 3
    assert f'data-thread-id="{report.thread_id}"' in page and "page-report.js" in page
    # A Court member of the thread sees the button; a State user never does.
    assert "Acknowledge receipt" not in page
    auth.logout()
    auth.login(users["court"])
    page = client.get(f"/travel/reports/{report_id}").get_data(as_text=True)
    assert f'action="/travel/reports/{report_id}/acknowledge"' in page


# -- the Court's follow-up -------------------------------------------------------------------------

def _post(client, path: str, **data: str):  # type: ignore[no-untyped-def]
    page = client.get(path.rsplit("/", 1)[0])
    return client.post(path, data={**data, "csrf_token": csrf_from(page.get_data(as_text=True))})


def test_court_acknowledges_once_and_the_reporter_is_told(client, auth, world, mailbox):
    users = world
    report_id = seed_report(users["member_nl"].id, members_for(users), ["ICC-OTP", "ICC-REG", "SEN"])
    db.session.commit()
    path = f"/travel/reports/{report_id}"
    auth.login(users["court"])
    mailbox.clear()
    response = _post(client, f"{path}/acknowledge")
    assert response.status_code == 302 and response.headers["Location"].endswith(path)
    report = db.session.get(Report, report_id)
    db.session.refresh(report)
    assert report.acknowledged_by_id == users["court"].id and report.acknowledged_at is not None
    first = report.acknowledged_at
    mail = mailbox.wait_for(users["member_nl"].email)
    body = mailbox.body(mail)
    assert "acknowledged" in mail["Subject"] and f"/travel/reports/{report_id}" in body
    assert report.thread_id not in body and "Netherlands" not in body
    page = client.get(path).get_data(as_text=True)
    assert "Acknowledged by the Court" in page and users["court"].full_name in page
    assert "Record the outcome" in page

    # Again (another Court user): nothing changes, no second mail.
    auth.logout()
    auth.login(users["editor"])
    mailbox.clear()
    response = _post(client, f"{path}/acknowledge")
    assert response.status_code == 302
    db.session.refresh(report)
    assert report.acknowledged_at == first and report.acknowledged_by_id == users["court"].id
    assert mailbox.messages == [] and len(audit("travel.report.acknowledge")) == 1


def test_states_cannot_acknowledge_or_record_outcomes(client, auth, world):
    users = world
    report_id = seed_report(users["member_nl"].id, members_for(users), ["ICC-OTP", "ICC-REG", "SEN"])
    db.session.commit()
    path = f"/travel/reports/{report_id}"
    for who in ("member_nl", "focal_nl", "focal_sn"):
        auth.login(users[who])
        token = csrf(client)
        assert client.post(f"{path}/acknowledge", data={"csrf_token": token}).status_code == 404, who
        assert client.post(f"{path}/outcome", data={"csrf_token": token, "outcome": "other"}).status_code == 404, who
        auth.logout()
    report = db.session.get(Report, report_id)
    assert report.acknowledged_at is None and report.outcome is None


def test_a_court_user_outside_the_thread_cannot_acknowledge(client, auth, world):
    users = world
    report_id = seed_report(users["member_nl"].id, [users["court"].id], ["ICC-OTP"])
    db.session.commit()
    auth.login(users["editor"])  # the Registry: sees every report, but is not in this thread
    path = f"/travel/reports/{report_id}"
    page = client.get(path).get_data(as_text=True)
    assert "Only a Court participant" in page and "page-report.js" not in page
    response = _post(client, f"{path}/acknowledge")
    assert response.status_code == 400 and "Only a Court participant" in response.get_data(as_text=True)
    assert db.session.get(Report, report_id).acknowledged_at is None and audit("travel.report.acknowledge") == []


def test_outcome_after_acknowledgement_only_from_the_list(client, auth, world):
    users = world
    report_id = seed_report(users["member_nl"].id, members_for(users), ["ICC-OTP", "ICC-REG", "SEN"])
    db.session.commit()
    path = f"/travel/reports/{report_id}"
    auth.login(users["court"])
    before = _post(client, f"{path}/outcome", outcome="did_not_travel")
    assert before.status_code == 400 and "Acknowledge receipt" in before.get_data(as_text=True)
    assert db.session.get(Report, report_id).outcome is None
    assert _post(client, f"{path}/acknowledge").status_code == 302
    refused = _post(client, f"{path}/outcome", outcome="escaped")
    assert refused.status_code == 400 and "Not a valid choice" in refused.get_data(as_text=True)
    assert _post(client, f"{path}/outcome", outcome="").status_code == 400
    report = db.session.get(Report, report_id)
    db.session.refresh(report)
    assert report.outcome is None and audit("travel.report.outcome") == []
    assert _post(client, f"{path}/outcome", outcome="did_not_travel").status_code == 302
    db.session.refresh(report)
    assert report.outcome == Outcome.DID_NOT_TRAVEL and report.outcome_recorded_by_id == users["court"].id
    assert "The travel did not take place" in client.get(path).get_data(as_text=True)
    assert _post(client, f"{path}/outcome", outcome="arrested_surrendered").status_code == 302
    assert [details(e) for e in audit("travel.report.outcome")] == [
        {"outcome": "did_not_travel", "previous": None},
        {"outcome": "arrested_surrendered", "previous": "did_not_travel"}]
    auth.logout()
    auth.login(users["member_nl"])
    listing = client.get("/travel/").get_data(as_text=True)
    assert "Arrested and surrendered to the Court" in listing and "Acknowledged by the Court" in listing


# -- reading -------------------------------------------------------------------------------------

def test_first_reading_is_recorded_for_recipients_only(client, auth, world):
    users = world
    report_id = seed_report(users["member_nl"].id, members_for(users), ["ICC-OTP", "ICC-REG", "SEN"])
    db.session.commit()
    path = f"/travel/reports/{report_id}/read"
    auth.login(users["focal_sn"])
    token = csrf(client)
    first = client.post(path, json={}, headers={"X-CSRFToken": token})
    assert first.status_code == 200 and first.get_json()["recorded"] is True
    assert client.post(path, json={}).status_code == 400  # CSRF
    again = client.post(path, json={}, headers={"X-CSRFToken": token})
    assert again.get_json() == {"recorded": False, "first_read_at": first.get_json()["first_read_at"]}
    auth.logout()
    auth.login(users["focal_nl"])  # the reporter's colleague: not a recipient
    token = csrf(client)
    assert client.post(path, json={}, headers={"X-CSRFToken": token}).get_json()["recorded"] is False
    page = client.get(f"/travel/reports/{report_id}").get_data(as_text=True)
    assert page.count("Not yet") == 2  # the Court's two users; Senegal's focal point has read it
    events = audit("travel.report.read")
    assert len(events) == 1 and events[0].actor_id == users["focal_sn"].id


# -- the report page for the reporter -----------------------------------------------------------------

def test_report_travel_page_lists_recipients_and_who_lacks_keys(client, auth, world):
    users = world
    seed_keys(users["court"].id)
    db.session.commit()
    auth.login(users["member_nl"])
    page = client.get("/travel/new").get_data(as_text=True)
    assert "1 person can read it" in page and "1 Bureau focal point on non-cooperation." in page
    assert f"Not reached, because they have not set up encryption yet: {users['editor'].full_name}, " \
           f"{users['focal_sn'].full_name}." in page
    assert 'data-court-parties="ICC-OTP ICC-REG"' in page and 'data-focal-parties="SEN"' in page
    assert f'data-focal-users="{users["focal_sn"].id}"' in page and 'data-ready="1"' in page
    assert "<button type=\"submit\" disabled>" in page  # enabled by the script only


def test_report_travel_page_when_nobody_at_the_court_has_keys(client, auth, users):
    auth.login(users["member_sn"])
    page = client.get("/travel/new").get_data(as_text=True)
    assert 'data-ready="0"' in page and "Nobody at the Court has set up encryption yet" in page
