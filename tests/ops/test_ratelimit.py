"""The shared rate limiter: counted in the database, so N allows N in total whatever the number
of workers (threads with their own connections stand in for them here; tests/ops/test_stack.py
proves it with two gunicorn instances), with a sliding window, per user and per limit."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cooperation.audit.models import AuditEvent
from cooperation.db import utcnow
from cooperation.extensions import db
from cooperation.ops import ratelimit
from cooperation.ops.ratelimit import Limit, LimitError, hit, parse_limit

pytestmark = [pytest.mark.xdist_group("ops")]


def test_parse_limit() -> None:
    assert parse_limit("30/hour") == Limit(30, timedelta(hours=1))
    assert parse_limit(" 5 / minutes ") == Limit(5, timedelta(minutes=1))
    assert parse_limit("100/day") == Limit(100, timedelta(days=1))
    for bad in ("", "5", "five/hour", "5/week", "-1/hour", "0/day"):
        with pytest.raises(LimitError):
            parse_limit(bad)


def test_the_window_slides(app) -> None:
    limit = Limit(2, timedelta(minutes=10))
    start = utcnow()
    assert hit(db.session, "t:1", limit, now=start) is None
    assert hit(db.session, "t:1", limit, now=start + timedelta(minutes=4)) is None
    wait = hit(db.session, "t:1", limit, now=start + timedelta(minutes=5))
    assert wait is not None and timedelta(minutes=4) < wait <= timedelta(minutes=5)
    # Once the first hit is older than the window, one more is allowed; other keys are separate.
    assert hit(db.session, "t:1", limit, now=start + timedelta(minutes=10, seconds=1)) is None
    assert hit(db.session, "t:2", limit, now=start + timedelta(minutes=5)) is None
    db.session.commit()


def test_concurrent_hits_from_separate_connections_allow_exactly_the_limit(app) -> None:
    limit = Limit(5, timedelta(hours=1))
    outcomes: list[bool] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)
    engine = db.engine

    def worker() -> None:
        with Session(engine) as session:
            barrier.wait()
            for _ in range(3):
                allowed = hit(session, "race:1", limit) is None
                session.commit()
                with lock:
                    outcomes.append(allowed)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(outcomes) == 24 and outcomes.count(True) == 5


def test_every_limited_endpoint_exists(app) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    for rule in ratelimit.RULES:
        missing = rule.endpoints - endpoints
        assert not missing, f"rate-limited endpoints no longer exist: {missing}"


def test_exports_are_limited_per_user_with_retry_after_and_an_audit_entry(make_app, users) -> None:
    from tests.conftest import AuthActions, CommittingClient

    app = make_app(rate_limit_exports="3/hour")
    app.test_client_class = CommittingClient
    with app.app_context():
        member, other = app.test_client(), app.test_client()
        AuthActions(member).login(users["member_nl"])
        AuthActions(other).login(users["member_sn"])
        statuses = [member.get("/directory/export.csv").status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 429, 429]
        refused = member.get("/directory/export.csv")
        assert 0 < int(refused.headers["Retry-After"]) <= 3601
        assert "Too many attempts" in refused.get_data(as_text=True)
        assert other.get("/directory/export.csv").status_code == 200  # per user
        entries = db.session.scalar(select(func.count()).select_from(AuditEvent)
                                    .where(AuditEvent.action == "ratelimit.refused",
                                           AuditEvent.actor_id == users["member_nl"].id))
        assert entries == 3
        db.session.rollback()


def test_password_reauthentication_is_limited_and_failures_count(make_app, users) -> None:
    from tests.conftest import AuthActions, CommittingClient, csrf_from

    app = make_app(rate_limit_reauth="2/hour", login_max_failures_per_account=50)
    app.test_client_class = CommittingClient
    with app.app_context():
        client = app.test_client()
        AuthActions(client).login(users["focal_nl"])
        statuses = []
        for _ in range(3):
            page = client.get("/account/security").get_data(as_text=True)
            response = client.post("/account/security/recovery-codes",
                                   data={"current": "wrong password", "csrf_token": csrf_from(page)})
            statuses.append(response.status_code)
        assert statuses == [302, 302, 429]
        # The second step of replacing the authenticator (no password in it) is not counted.
        page = client.get("/account/security").get_data(as_text=True)
        response = client.post("/account/security/authenticator",
                               data={"code": "123456", "csrf_token": csrf_from(page)})
        assert response.status_code != 429
