"""The hash-chained audit log: appends, `audit verify`, tampering named by entry, no secrets,
and concurrent appends that never fork the chain (both backends)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete, func, select, update

from cooperation.audit.models import GENESIS_HASH, AuditEvent, AuditHead
from cooperation.audit.service import Actor, compute_hash, record, verify
from cooperation.extensions import db

ACTOR = Actor(user_id=None, label="tester@asp.test", party_code="ASP-SEC", ip_address="192.0.2.1")


def _append(n: int) -> None:
    for i in range(n):
        record(db.session, "test.action", ACTOR, target_type="thing", target_id=i,
               details={"index": i, "note": f"entry {i}"})
    db.session.commit()


def _run_verify(app):  # type: ignore[no-untyped-def]
    db.session.commit()
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def _output(result) -> str:  # type: ignore[no-untyped-def]
    # Click 8.2+ keeps stderr apart and also interleaves it into output.
    return result.output + (result.stderr if result.stderr not in result.output else "")


def test_record_builds_a_chain(app):
    _append(5)
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == GENESIS_HASH
    for previous, event in zip(events, events[1:], strict=False):
        assert event.prev_hash == previous.entry_hash
    for event in events:
        assert event.entry_hash == compute_hash(event)
    head = db.session.get(AuditHead, 1)
    assert head.seq == 5 and head.tip_hash == events[-1].entry_hash
    assert verify(db.session) == []


def test_record_is_part_of_the_callers_transaction(app):
    _append(2)
    record(db.session, "test.rolled_back", ACTOR)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == 2
    _append(1)
    assert verify(db.session) == []


def test_cli_verify_passes_on_an_intact_chain(app):
    _append(4)
    result = _run_verify(app)
    assert result.exit_code == 0, _output(result)
    assert "4 entries verified" in _output(result)


def test_cli_verify_passes_on_an_empty_log(app):
    result = _run_verify(app)
    assert result.exit_code == 0, _output(result)


def _assert_tampered(app, *seqs: int) -> str:  # type: ignore[no-untyped-def]
    result = _run_verify(app)
    text = _output(result)
    assert result.exit_code == 1, text
    assert "TAMPERED" in text
    for seq in seqs:
        assert f"entry {seq}:" in text, text
    return text


def test_modified_details_are_named(app):
    _append(5)
    db.session.execute(update(AuditEvent).where(AuditEvent.seq == 3)
                       .values(details='{"index":3,"note":"nothing to see"}'))
    text = _assert_tampered(app, 3)
    assert "modified" in text
    assert "entry 2:" not in text and "entry 4:" not in text


def test_modified_actor_is_named(app):
    _append(3)
    db.session.execute(update(AuditEvent).where(AuditEvent.seq == 1).values(actor_label="someone@else.test"))
    _assert_tampered(app, 1)


def test_deleted_middle_entry_is_named(app):
    _append(5)
    db.session.execute(delete(AuditEvent).where(AuditEvent.seq == 3))
    text = _assert_tampered(app, 3)
    assert "missing" in text


def test_deleted_last_entry_is_named(app):
    _append(5)
    db.session.execute(delete(AuditEvent).where(AuditEvent.seq == 5))
    text = _assert_tampered(app, 5)
    assert "removed at the end" in text


def test_deleted_last_entry_with_head_rewound_is_detected(app):
    _append(5)
    fourth = db.session.get(AuditEvent, 4)
    db.session.execute(delete(AuditEvent).where(AuditEvent.seq == 5))
    # A careful attacker rewinds the counter too; the head hash still gives it away.
    db.session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=4))
    assert fourth is not None
    _assert_tampered(app, 4)


_CONTENT = ("created_at", "action", "outcome", "actor_id", "actor_label", "party_code", "ip_address",
            "target_type", "target_id", "details", "prev_hash", "entry_hash")


def test_swapped_entries_are_named(app):
    _append(5)
    two, three = (db.session.get(AuditEvent, s) for s in (2, 3))
    a = {c: getattr(two, c) for c in _CONTENT}
    b = {c: getattr(three, c) for c in _CONTENT}
    db.session.expunge_all()
    # Unique hashes: move one row out of the way first.
    db.session.execute(update(AuditEvent).where(AuditEvent.seq == 2)
                       .values(prev_hash="x" * 64, entry_hash="y" * 64))
    db.session.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(**a))
    db.session.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(**b))
    _assert_tampered(app, 2, 3)


def test_entries_reordered_by_rehashing_are_detected(app):
    # Swap only the visible content and recompute each entry's own hash: the links break.
    _append(4)
    two, three = (db.session.get(AuditEvent, s) for s in (2, 3))
    two.details, three.details = three.details, two.details
    two.entry_hash, three.entry_hash = "p" * 64, "q" * 64
    db.session.flush()
    two.entry_hash = compute_hash(two)
    three.entry_hash = compute_hash(three)
    db.session.commit()
    _assert_tampered(app, 3)


@pytest.mark.parametrize("key", ["password", "token", "secret", "code", "otp", "key", "totp_secret",
                                 "Password", "TOKEN"])
def test_secrets_in_details_are_refused(app, key):
    with pytest.raises(ValueError, match="secret"):
        record(db.session, "test.leak", ACTOR, details={key: "hunter2"})
    db.session.rollback()


def test_nested_secrets_in_details_are_refused(app):
    with pytest.raises(ValueError, match="secret"):
        record(db.session, "test.leak", ACTOR, details={"form": {"email": "a@b.test", "password": "hunter2"}})
    db.session.rollback()
    with pytest.raises(ValueError, match="secret"):
        record(db.session, "test.leak", ACTOR, details={"items": [{"token": "abc"}]})
    db.session.rollback()


THREADS = 8
PER_THREAD = 25


def test_concurrent_appends_never_fork_the_chain(app):
    # The app fixture is the backend's application (SQLite file or a real PostgreSQL).
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def worker(n: int) -> None:
        try:
            with app.app_context():
                barrier.wait(timeout=30)
                for i in range(PER_THREAD):
                    record(db.session, "test.concurrent", Actor(None, f"thread-{n}", "", ""),
                           details={"thread": n, "i": i})
                    db.session.commit()
                db.session.remove()
        except BaseException as exc:  # reported below, with the thread that failed
            errors.append(exc)

    db.session.commit()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=240)
    assert not errors, errors
    assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == THREADS * PER_THREAD
    assert db.session.scalar(select(func.count(func.distinct(AuditEvent.prev_hash)))) == THREADS * PER_THREAD
    seqs = db.session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)).all()
    assert seqs == list(range(1, THREADS * PER_THREAD + 1))
    assert verify(db.session) == []
    result = _run_verify(app)
    assert result.exit_code == 0, _output(result)
