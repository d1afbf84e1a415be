"""The threads API's hot paths, on SQLite and PostgreSQL: a post is checked outside the write
lock and stored by one statement that re-checks what may have changed in between; the thread
list costs the same few statements for one thread or many."""

from __future__ import annotations

import secrets

from sqlalchemy import bindparam, event, insert, select, text, update

from cooperation.db import utcnow
from cooperation.extensions import db
from cooperation.threads import services as s
from cooperation.threads.models import Device, Message, Thread, ThreadMember
from tests.functional.test_threads_api import _create, _post, world  # noqa: F401 (fixture)
from tests.functional.test_threads_api_kit import b64, envelope


class Statements:
    """Counts the SQL statements the application sends while active."""

    def __init__(self) -> None:
        self.count = 0

    def __enter__(self) -> Statements:
        event.listen(db.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(db.engine, "before_cursor_execute", self._seen)

    def _seen(self, *args: object) -> None:
        self.count += 1



def _listing_cost(api) -> tuple[int, int, list[dict]]:  # type: ignore[no-untyped-def]
    with Statements() as api_calls:
        listing = api.get("/api/v1/threads").get_json()["threads"]
    with Statements() as page_calls:
        assert api.client.get("/threads").status_code == 200
    return api_calls.count, page_calls.count, listing


def test_thread_list_statements_do_not_grow_with_threads(world):  # noqa: F811
    api_sn = world["focal_sn"][0]
    first, _ = _create(world, "focal_nl", ["SEN"], ["focal_nl", "focal_sn"])
    assert _post(world, "focal_nl", first).status_code == 201
    api_one, page_one, listing = _listing_cost(api_sn)
    assert [(t["id"], t["unread"]) for t in listing] == [(first, 1)]

    others = [_create(world, "focal_nl", ["SEN"], ["focal_nl", "focal_sn"])[0] for _ in range(4)]
    for n, tid in enumerate(others):
        for _ in range(n):
            assert _post(world, "focal_nl", tid).status_code == 201
    api_five, page_five, listing = _listing_cost(api_sn)
    assert (api_five, page_five) == (api_one, page_one)
    unread = {t["id"]: t["unread"] for t in listing}
    assert unread == {first: 1, others[0]: 0, others[1]: 1, others[2]: 2, others[3]: 3}
    # Most recent activity first; threads without messages after, newest first.
    assert [t["id"] for t in listing][:4] == [others[3], others[2], others[1], first]
    page = api_sn.client.get("/threads").get_data(as_text=True)
    assert "NLD" in page and "SEN" in page


def test_unread_count_in_the_list_stops_at_the_cap(world):  # noqa: F811
    tid, _ = _create(world, "focal_nl", ["SEN"], ["focal_nl", "focal_sn"])
    sender = world["focal_nl"][2]
    device = world["focal_nl"][1]
    now = utcnow()
    db.session.execute(insert(Message), [
        {"thread_id": tid, "msg_id": secrets.token_hex(16), "epoch": 1, "sender_id": sender.id,
         "device_id": device.device_id, "envelope": b"x", "created_at": now} for _ in range(s.MAX_UNREAD + 5)])
    db.session.commit()
    api_sn = world["focal_sn"][0]
    listed = api_sn.get("/api/v1/threads").get_json()["threads"][0]
    assert (listed["unread"], listed["unread_capped"]) == (s.MAX_UNREAD + 1, True)
    one = api_sn.get(f"/api/v1/threads/{tid}").get_json()
    assert (one["unread"], one["unread_capped"]) == (listed["unread"], True)


def _checked(world, tid: str) -> s.CheckedPost:  # type: ignore[no-untyped-def]  # noqa: F811
    _api, dev, user = world["focal_nl"]
    thread, _member = s.membership(db.session, user, tid)
    checked = s.check_post(db.session, user, thread, envelope(tid, 1, user.id, dev, b"checked"))
    db.session.rollback()
    return checked


def test_store_refuses_what_changed_after_the_check(world):  # noqa: F811
    """Between the read-only check and the INSERT another request may rotate the thread, remove
    the sender or revoke the device: the INSERT itself then stores nothing."""
    tid, _ = _create(world, "focal_nl", ["SEN"], ["focal_nl", "focal_sn"])
    user = world["focal_nl"][2]

    def stored_after(change) -> bool:  # type: ignore[no-untyped-def]
        checked = _checked(world, tid)
        db.session.execute(change)
        row = s.store_post(db.session, checked)
        db.session.rollback()
        return row is not None

    assert stored_after(select(1))  # nothing changed: stored
    assert not stored_after(update(Thread).where(Thread.id == tid).values(epoch=2))
    assert not stored_after(update(ThreadMember).where(ThreadMember.thread_id == tid,
                                                       ThreadMember.user_id == user.id).values(removed_at=utcnow()))
    assert not stored_after(update(Device).where(Device.device_id == world["focal_nl"][1].device_id)
                            .values(revoked_at=utcnow()))
    assert db.session.scalar(select(Message.id).where(Message.thread_id == tid)) is None


def test_post_reports_a_rotation_that_won_the_race(world, monkeypatch):  # noqa: F811
    """The API answers a post overtaken by a rotation with the same 409 (and head) as a post
    that arrived after it, and stores nothing."""
    tid, _ = _create(world, "focal_nl", ["SEN"], ["focal_nl", "focal_sn"])
    real_store = s.store_post

    def rotate_first(session, checked):  # type: ignore[no-untyped-def]
        session.execute(update(Thread).where(Thread.id == tid).values(epoch=2))
        return real_store(session, checked)

    monkeypatch.setattr(s, "store_post", rotate_first)
    r = _post(world, "focal_nl", tid)
    assert r.status_code == 409 and r.get_json()["epoch"] == 2, r.get_json()
    assert db.session.scalar(select(Message.id).where(Message.thread_id == tid)) is None


def test_a_post_and_the_latest_page_cost_few_statements(world, backend):  # noqa: F811
    """Each statement is a round trip to PostgreSQL: a post is the session with its user, the
    membership with the device, then one write; the latest page is the session with its user,
    then the messages with the membership."""
    tid, _ = _create(world, "focal_nl", ["SEN"], ["focal_nl", "focal_sn"])
    assert _post(world, "focal_nl", tid).status_code == 201
    api = world["focal_sn"][0]
    poster, dev, user = world["focal_nl"]
    payload = {"envelope": b64(envelope(tid, 1, user.id, dev, b"counted"))}  # the test's own reads, before
    with Statements() as posting:
        assert poster.post(f"/api/v1/threads/{tid}/messages", payload).status_code == 201
    with Statements() as reading:
        page = api.get(f"/api/v1/threads/{tid}/messages")
    assert page.status_code == 200 and len(page.get_json()["messages"]) == 2
    # SQLite also sends a BEGIN per transaction (BEGIN IMMEDIATE for the write) and marks the
    # members to notify by a second statement: no round trips there, and no autocommit.
    assert (posting.count, reading.count) == ((3, 2) if backend == "postgresql" else (7, 3))


def test_a_store_refused_by_its_recheck_marks_no_one_for_a_mail(world, monkeypatch, mailbox):  # noqa: F811
    """The notification mark is part of the store: nothing stored, no one marked (on PostgreSQL
    both are one statement, the mark reading what the INSERT returned)."""
    tid, _ = _create(world, "focal_nl", ["SEN"], ["focal_nl", "focal_sn"])
    api_sn, _dev, user_sn = world["focal_sn"]
    assert api_sn.put("/api/v1/notifications", {"mode": "event"}).status_code == 200
    real_store = s.store_post

    def revoke_first(session, checked):  # type: ignore[no-untyped-def]
        session.execute(update(Device).where(Device.device_id == checked.device_id).values(revoked_at=utcnow()))
        return real_store(session, checked)

    monkeypatch.setattr(s, "store_post", revoke_first)
    r = _post(world, "focal_nl", tid)
    assert r.status_code == 400 and "active devices" in r.get_json()["error"], r.get_json()
    notified = db.session.scalar(select(ThreadMember.notified).where(ThreadMember.thread_id == tid,
                                                                     ThreadMember.user_id == user_sn.id))
    assert notified is False
    assert db.session.scalar(select(Message.id).where(Message.thread_id == tid)) is None
    assert not [m for m in mailbox.messages if user_sn.email in m["To"]]


def _plan(statement, params: dict) -> str:  # type: ignore[no-untyped-def]
    compiled = statement.compile(dialect=db.engine.dialect)
    rows = db.session.connection().exec_driver_sql("EXPLAIN " + str(compiled), compiled.construct_params(params)).all()
    return "\n".join(row[0] for row in rows)


def test_a_large_thread_pages_along_its_own_index_on_postgresql(world, postgresql_only):  # noqa: F811
    """PostgreSQL, believing a thread holds most messages, would walk the primary key backwards
    and read through every newer message of every other thread first. The latest page and the
    pages before it must walk the (thread_id, id) index, however skewed the statistics."""
    big, _ = _create(world, "focal_nl", ["SEN"], ["focal_nl", "focal_sn"])
    other, _ = _create(world, "focal_nl", ["SEN"], ["focal_nl", "focal_sn"])
    _api, device, sender = world["focal_nl"]

    def fill(tid: str, count: int) -> None:
        now = utcnow()
        db.session.execute(insert(Message), [
            {"thread_id": tid, "msg_id": secrets.token_hex(16), "epoch": 1, "sender_id": sender.id,
             "device_id": device.device_id, "envelope": b"x" * 200, "created_at": now} for _ in range(count)])
        db.session.commit()

    fill(big, 20_000)
    db.session.execute(text("ANALYZE thread_message"))
    fill(other, 3_000)  # newer than all of them, and not in the statistics yet
    middle = db.session.scalar(select(Message.id).where(Message.thread_id == big).order_by(Message.id).offset(500).limit(1))
    for plan in (_plan(s._LATEST, {"thread_id": big, "limit": 50}),
                 _plan(s._LATEST_BEFORE["postgresql"], {"thread_id": big, "before": middle, "limit": 50})):
        assert "ix_thread_message_thread_id_id" in plan and "pk_thread_message" not in plan, plan
    # What the plain form does with the same statistics: the trap this guards against.
    plain = select(Message.id, Message.envelope).where(Message.thread_id == bindparam("thread_id")) \
        .order_by(Message.id.desc()).limit(50)
    assert "pk_thread_message" in _plan(plain, {"thread_id": big})


def test_the_latest_page_crosses_from_postgresql_in_binary(world, postgresql_only):  # noqa: F811
    """A page of envelopes in the binary row format (bytes, not hex digits), the same values."""
    tid, _ = _create(world, "focal_nl", ["SEN"], ["focal_nl", "focal_sn"])
    api, dev, user = world["focal_nl"]
    sent = [envelope(tid, 1, user.id, dev, f"message {n}".encode()) for n in range(3)]
    for raw in sent:
        assert api.post(f"/api/v1/threads/{tid}/messages", {"envelope": b64(raw)}).status_code == 201
    formats: list[object] = []

    def seen(conn, cursor, statement, *args: object) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().startswith("SELECT thread_message.id"):
            formats.append(cursor.format)

    event.listen(db.engine, "after_cursor_execute", seen)
    try:
        page = world["focal_sn"][0].get(f"/api/v1/threads/{tid}/messages").get_json()["messages"]
    finally:
        event.remove(db.engine, "after_cursor_execute", seen)
    from psycopg.pq import Format

    assert formats == [Format.BINARY]
    assert [m["envelope"] for m in reversed(page)] == [b64(raw) for raw in sent]
    assert all(m["created_at"].endswith("+00:00") for m in page)
