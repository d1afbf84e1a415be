"""The Atom feed: reachable only with a valid per-user token, which is shown once, stored hashed,
revocable, replaced on renewal, and dead with a suspended account."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # noqa: S405 - parsing our own output in a test

from sqlalchemy import select

from cooperation.accounts.models import UserStatus
from cooperation.audit.models import AuditEvent
from cooperation.caselaw.models import CaselawFeedToken
from cooperation.extensions import db
from cooperation.security.sessions import hash_token
from tests.conftest import csrf_from
from tests.functional.caselaw_support import draft, explainer, published, second_editor

ATOM = "{http://www.w3.org/2005/Atom}"


def _issue(client) -> str:  # type: ignore[no-untyped-def]
    page = client.get("/caselaw/feed-token").get_data(as_text=True)
    response = client.post("/caselaw/feed-token", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 200
    match = re.search(r'value="(http[^"]+/caselaw/feed\.atom\?token=([^"&]+))"', response.get_data(as_text=True))
    assert match, "the new feed address is shown"
    return match.group(2)


def test_feed_with_valid_invalid_and_revoked_tokens(client, auth, users):
    other = second_editor()
    published(users["editor"], other, "feed-item", explainer("Published <in> the feed"))
    draft(users["editor"], "feed-draft", explainer("A draft never in the feed"))
    db.session.commit()
    assert client.get("/caselaw/feed.atom").status_code == 404
    assert client.get("/caselaw/feed.atom?token=nonsense").status_code == 404
    auth.login(users["member_nl"])
    token = _issue(client)
    row = db.session.scalar(select(CaselawFeedToken).where(CaselawFeedToken.user_id == users["member_nl"].id))
    assert row.token_hash == hash_token(token) and token not in row.token_hash
    auth.logout()
    # A feed reader has no session: the token alone opens the feed.
    feed = client.get(f"/caselaw/feed.atom?token={token}")
    assert feed.status_code == 200 and feed.mimetype == "application/atom+xml"
    root = ET.fromstring(feed.get_data())  # noqa: S314 - our own output
    titles = [e.findtext(f"{ATOM}title") for e in root.findall(f"{ATOM}entry")]
    assert titles == ["Published <in> the feed"]
    link = root.find(f"{ATOM}entry/{ATOM}link").get("href")
    assert link.endswith("/caselaw/feed-item")
    assert token not in feed.get_data(as_text=True)
    db.session.refresh(row)
    assert row.last_used_at is not None
    # Revoked: the feed is gone.
    auth.login(users["member_nl"])
    page = client.get("/caselaw/feed-token").get_data(as_text=True)
    assert "You have an active feed address" in page and token not in page  # shown only once
    assert client.post("/caselaw/feed-token/revoke", data={"csrf_token": csrf_from(page)}).status_code == 302
    assert client.get(f"/caselaw/feed.atom?token={token}").status_code == 404
    # No secret in the audit log.
    for event in db.session.scalars(select(AuditEvent).where(AuditEvent.action.like("caselaw.feed_token.%"))):
        assert token not in (event.details or "")
    assert {e.action for e in db.session.scalars(select(AuditEvent))} >= {
        "caselaw.feed_token.issue", "caselaw.feed_token.revoke"}


def test_a_new_token_replaces_the_old_one(client, auth, users):
    auth.login(users["focal_sn"])
    first = _issue(client)
    second = _issue(client)
    assert first != second
    assert client.get(f"/caselaw/feed.atom?token={first}").status_code == 404
    assert client.get(f"/caselaw/feed.atom?token={second}").status_code == 200


def test_a_suspended_users_token_stops_working(client, auth, users):
    user = users["member_sn"]
    auth.login(user)
    token = _issue(client)
    assert client.get(f"/caselaw/feed.atom?token={token}").status_code == 200
    user.status = UserStatus.SUSPENDED
    db.session.commit()
    assert client.get(f"/caselaw/feed.atom?token={token}").status_code == 404


def test_revoking_without_a_token_is_refused(client, auth, users):
    auth.login(users["court"])
    page = client.get("/caselaw/feed-token").get_data(as_text=True)
    response = client.post("/caselaw/feed-token/revoke", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 400 and "no feed address to revoke" in response.get_data(as_text=True)
    # Without the CSRF token nothing happens.
    assert client.post("/caselaw/feed-token", data={}).status_code == 400
    assert db.session.scalar(select(CaselawFeedToken.id)) is None
