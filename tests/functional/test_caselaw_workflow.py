"""Editorial workflow of the case-law section, through the real pages: only Registry editors
write, a second editor publishes, drafts and scheduled items stay invisible to readers, every
save is a version, versions compare and restore, and every action is audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from cooperation.audit.models import AuditEvent
from cooperation.caselaw.models import CaselawItem, CaselawVersion
from cooperation.caselaw.taxonomy import ItemStatus
from cooperation.db import utcnow
from cooperation.extensions import db
from tests.conftest import csrf_from
from tests.functional.caselaw_support import draft, explainer, publish, second_editor

NEW_EXPLAINER = {
    "slug": "freezing-no-link", "language": "en", "title": "Freezing: no link required",
    "document_number": "ICC-ACRed-01/16", "chamber": "appeals", "decision_date": "2016-02-15",
    "situation": "", "case_name": "", "decision_url": "https://www.icc-cpi.int/court-record/example",
    "holding": "No **link** between the crime and the assets is required.",
    "practice": "- Do not refuse a request for lack of a link.", "body": "Background.",
    "topics": ["freezing", "tracing"], "articles": ["57(3)(e)", "93(1)(k)"], "note": "first draft",
    "action": "save",
}


def _count(model) -> int:  # type: ignore[no-untyped-def]
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def _audit(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _post_new(client, data: dict, kind: str = "explainer"):  # type: ignore[no-untyped-def]
    page = client.get(f"/editor/caselaw/new?kind={kind}")
    assert page.status_code == 200
    return client.post(f"/editor/caselaw/new?kind={kind}", data={**data, "csrf_token": csrf_from(page.get_data(as_text=True))})


def _post(client, item_id: int, action: str, data: dict | None = None):  # type: ignore[no-untyped-def]
    token = csrf_from(client.get(f"/editor/caselaw/{item_id}").get_data(as_text=True))
    return client.post(f"/editor/caselaw/{item_id}/{action}", data={**(data or {}), "csrf_token": token})


def test_editor_writes_a_draft_that_readers_cannot_see(client, auth, users):
    auth.login(users["editor"])
    response = _post_new(client, NEW_EXPLAINER)
    assert response.status_code == 302, response.get_data(as_text=True)
    item = db.session.scalar(select(CaselawItem).where(CaselawItem.slug == "freezing-no-link"))
    assert item is not None and item.status == ItemStatus.DRAFT and item.current_version_number == 1
    version = item.current_version
    assert version.topics == ["freezing", "tracing"] and sorted(version.articles) == ["57(3)(e)", "93(1)(k)"]
    assert version.decision_url.startswith("https://") and version.note == "first draft"
    created = _audit("caselaw.item.create")
    assert len(created) == 1 and created[0].actor_id == users["editor"].id
    # The editor sees it in the workspace, rendered from Markdown.
    page = client.get(f"/editor/caselaw/{item.id}").get_data(as_text=True)
    assert "<strong>link</strong>" in page
    auth.logout()
    auth.login(users["member_nl"])
    assert client.get("/caselaw/freezing-no-link").status_code == 404
    listing = client.get("/caselaw?q=freezing").get_data(as_text=True)
    assert "Freezing: no link required" not in listing


@pytest.mark.parametrize("who", ["admin", "court", "focal_nl", "member_nl"])
def test_only_registry_editors_write(client, auth, users, who):
    auth.login(users[who])
    assert client.get("/editor/caselaw").status_code == 404
    assert client.get("/editor/caselaw/new").status_code == 404
    token = csrf_from(client.get("/caselaw").get_data(as_text=True))
    response = client.post("/editor/caselaw/new", data={**NEW_EXPLAINER, "csrf_token": token})
    assert response.status_code == 404
    item = draft(users["editor"], "a-draft")
    db.session.commit()
    for action in ("edit", "submit", "approve", "return", "withdraw", "restore"):
        assert client.post(f"/editor/caselaw/{item.id}/{action}", data={"csrf_token": token}).status_code == 404
    assert _count(CaselawItem) == 1 and _count(CaselawVersion) == 1
    # Reading is for everyone.
    assert client.get("/caselaw").status_code == 200


def test_a_second_editor_must_approve_publication(client, auth, users):
    other = second_editor()
    item = draft(users["editor"], "two-person-rule")
    db.session.commit()
    auth.login(users["editor"])
    assert _post(client, item.id, "submit").status_code == 302
    db.session.refresh(item)
    assert item.status == ItemStatus.IN_REVIEW
    page = client.get(f"/editor/caselaw/{item.id}").get_data(as_text=True)
    assert "you cannot approve it" in page
    refused = _post(client, item.id, "approve")
    assert refused.status_code == 400
    assert "another Registry editor must approve" in refused.get_data(as_text=True)
    db.session.refresh(item)
    assert item.status == ItemStatus.IN_REVIEW and item.published_version_number is None
    denied = _audit("caselaw.item.approve")
    assert len(denied) == 1 and denied[0].outcome == "denied"
    auth.logout()
    auth.login(other)
    assert _post(client, item.id, "approve").status_code == 302
    db.session.refresh(item)
    assert item.status == ItemStatus.PUBLISHED and item.published_version_number == 1
    assert item.approved_by_id == other.id
    auth.logout()
    auth.login(users["member_sn"])
    page = client.get("/caselaw/two-person-rule")
    assert page.status_code == 200 and "Freezing without a link" in page.get_data(as_text=True)


def test_an_editor_who_edited_a_version_cannot_approve_it(client, auth, users):
    """Submitter or co-author: anyone who wrote the pending content is excluded."""
    other = second_editor()
    item = draft(users["editor"], "co-authored")
    from cooperation.caselaw import services
    from tests.functional.caselaw_support import ACTOR

    services.save_item(db.session, item, explainer("Changed by the second editor"), author=other, actor=ACTOR)
    services.submit_for_review(db.session, item, user=users["editor"], actor=ACTOR)
    db.session.commit()
    for who in (users["editor"], other):
        auth.login(who)
        assert _post(client, item.id, "approve").status_code == 400
        auth.logout()
    db.session.refresh(item)
    assert item.published_version_number is None


def test_editing_a_published_item_keeps_readers_on_the_approved_version(client, auth, users):
    other = second_editor()
    item = publish(draft(users["editor"], "stable-text"), users["editor"], other)
    db.session.commit()
    auth.login(users["editor"])
    page = client.get(f"/editor/caselaw/{item.id}/edit")
    data = {**NEW_EXPLAINER, "title": "A new title in preparation", "csrf_token": csrf_from(page.get_data(as_text=True))}
    data.pop("slug"), data.pop("language")
    assert client.post(f"/editor/caselaw/{item.id}/edit", data=data).status_code == 302
    db.session.refresh(item)
    assert item.status == ItemStatus.DRAFT and item.current_version_number == 2 and item.published_version_number == 1
    auth.logout()
    auth.login(users["member_nl"])
    text = client.get("/caselaw/stable-text").get_data(as_text=True)
    assert "Freezing without a link" in text and "A new title in preparation" not in text


def test_scheduled_item_is_invisible_until_its_time(client, auth, users):
    other = second_editor()
    item = draft(users["editor"], "scheduled-item", explainer("Scheduled explainer"))
    from cooperation.caselaw import services
    from tests.functional.caselaw_support import ACTOR

    services.submit_for_review(db.session, item, user=users["editor"], actor=ACTOR)
    db.session.commit()
    later = (utcnow() + timedelta(days=2)).replace(second=0, microsecond=0)
    auth.login(other)
    response = _post(client, item.id, "approve", {"publish_at": later.strftime("%Y-%m-%dT%H:%M")})
    assert response.status_code == 302
    db.session.refresh(item)
    assert item.publish_at == later and item.status == ItemStatus.PUBLISHED
    approved = _audit("caselaw.item.approve")
    assert approved[-1].details and '"scheduled":true' in approved[-1].details
    auth.logout()
    auth.login(users["member_nl"])
    assert client.get("/caselaw/scheduled-item").status_code == 404
    assert "Scheduled explainer" not in client.get("/caselaw?q=scheduled").get_data(as_text=True)
    assert "Scheduled explainer" not in client.get("/caselaw").get_data(as_text=True)
    # Time passes (no worker: readers' queries compare publish_at with now).
    item.publish_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert client.get("/caselaw/scheduled-item").status_code == 200
    assert "Scheduled explainer" in client.get("/caselaw?q=scheduled").get_data(as_text=True)


def test_version_history_diff_and_restore(client, auth, users):
    item = draft(users["editor"], "versioned", explainer("Version one", holding="Original holding <script>x</script>"))
    db.session.commit()
    auth.login(users["editor"])
    page = client.get(f"/editor/caselaw/{item.id}/edit")
    data = {**NEW_EXPLAINER, "title": "Version two", "holding": "Changed holding",
            "csrf_token": csrf_from(page.get_data(as_text=True))}
    data.pop("slug"), data.pop("language")
    assert client.post(f"/editor/caselaw/{item.id}/edit", data=data).status_code == 302
    history = client.get(f"/editor/caselaw/{item.id}/history?a=1&b=2")
    text = history.get_data(as_text=True)
    assert history.status_code == 200
    assert "Version one" in text and "Version two" in text
    assert 'class="diff-remove"' in text and 'class="diff-add"' in text
    # The diff is escaped: the text's markup is shown, never run.
    assert "&lt;script&gt;x&lt;/script&gt;" in text and "<script>x</script>" not in text
    token = csrf_from(text)
    assert client.post(f"/editor/caselaw/{item.id}/restore", data={"version": "1", "csrf_token": token}).status_code == 302
    db.session.refresh(item)
    assert item.current_version_number == 3
    restored = item.current_version
    assert restored.title == "Version one" and restored.restored_from == 1 and restored.action == "restore"
    assert [e.details for e in _audit("caselaw.item.restore")] == ['{"restored_from":1,"version":3}']
    assert len(_audit("caselaw.item.save")) == 1


def test_unchanged_save_makes_no_version(client, auth, users):
    item = draft(users["editor"], "unchanged")
    db.session.commit()
    auth.login(users["editor"])
    page = client.get(f"/editor/caselaw/{item.id}/edit").get_data(as_text=True)
    form = {"title": "Freezing without a link", "document_number": "ICC-ACRed-01/16", "chamber": "appeals",
            "decision_date": "2016-02-15", "holding": "No link between the crime and the assets is required.",
            "practice": "Execute the request without asking for a link.", "body": "Background.",
            "topics": ["freezing"], "articles": ["93(1)(k)"], "action": "save", "csrf_token": csrf_from(page)}
    response = client.post(f"/editor/caselaw/{item.id}/edit", data=form, follow_redirects=True)
    assert "Nothing was changed" in response.get_data(as_text=True)
    assert _count(CaselawVersion) == 1


def test_preview_renders_sanitised_html_and_saves_nothing(client, auth, users):
    auth.login(users["editor"])
    data = {**NEW_EXPLAINER, "action": "preview",
            "holding": "**Bold** <script>alert(1)</script> [x](javascript:alert(1))"}
    response = _post_new(client, data)
    text = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Preview (not saved)" in text
    preview = text.split("Preview (not saved)", 1)[1]
    assert "<strong>Bold</strong>" in preview and "&lt;script&gt;alert(1)&lt;/script&gt;" in preview
    assert "<script>alert(1)</script>" not in text and "javascript:" not in preview
    assert _count(CaselawItem) == 0


def test_return_to_draft_and_withdraw(client, auth, users):
    other = second_editor()
    item = draft(users["editor"], "returned")
    db.session.commit()
    auth.login(users["editor"])
    _post(client, item.id, "submit")
    auth.logout()
    auth.login(other)
    assert _post(client, item.id, "return", {"note": "Cite the paragraph."}).status_code == 302
    db.session.refresh(item)
    assert item.status == ItemStatus.DRAFT
    assert _audit("caselaw.item.return")[0].details == '{"note":"Cite the paragraph.","version":1}'
    auth.logout()
    auth.login(users["editor"])
    _post(client, item.id, "submit")
    auth.logout()
    auth.login(other)
    _post(client, item.id, "approve")
    assert _post(client, item.id, "withdraw", {"reason": "Superseded"}).status_code == 302
    db.session.refresh(item)
    assert item.published_version_number is None and item.publish_at is None
    auth.logout()
    auth.login(users["member_nl"])
    assert client.get("/caselaw/returned").status_code == 404
    assert "Freezing without a link" not in client.get("/caselaw?q=freezing").get_data(as_text=True)
