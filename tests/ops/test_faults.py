"""Fault injection on the real stack (FLT-01, FLT-03 of the security research).

Invariant (Jepsen-style): every write the platform acknowledged (a 302 after the form) is in the
database afterwards, exactly once, with its audit entry; nothing exists without its audit entry;
the audit chain verifies. The application is killed with SIGKILL mid-write, repeatedly; the
database is restarted and killed with SIGKILL under load, and the application must recover by
itself (cooperation.liveness and the lookups' retry), without being restarted.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from tests.ops.conftest import Browser, Stack
from tests.ops.test_stack import create_contact, flask_cli

pytestmark = [pytest.mark.ops, pytest.mark.xdist_group("ops")]


class Writers:
    """Threads creating directory contact points through nginx until stopped."""

    def __init__(self, stack: Stack, codes: list[str], label: str) -> None:
        self.stack, self.codes, self.label = stack, codes, label
        self.acknowledged: list[str] = []
        self.failed = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.browsers: dict[str, Browser] = {}

    def _run(self, code: str) -> None:
        browser = self.browsers[code]
        while not self.stop.is_set():
            authority = f"{self.label} {code} {uuid.uuid4().hex[:12]}"
            try:
                response = create_contact(browser, code, authority)
                ok = response.status_code == 302
            except (httpx.TransportError, AssertionError):  # no CSRF token: an error page
                ok = False
            with self.lock:
                if ok:
                    self.acknowledged.append(authority)
                else:
                    self.failed += 1
            if not ok:
                time.sleep(0.05)

    @contextmanager
    def running(self) -> Iterator[Writers]:
        for code in self.codes:
            self.browsers[code] = self.stack.browser()
            self.browsers[code].login(self.stack.accounts[code.lower()])
        threads = [threading.Thread(target=self._run, args=(c,), daemon=True) for c in self.codes]
        for t in threads:
            t.start()
        try:
            yield self
        finally:
            self.stop.set()
            for t in threads:
                t.join(timeout=60)
            for b in self.browsers.values():
                b.close()


def check_invariants(stack: Stack, label: str, acknowledged: list[str]) -> int:
    engine = stack.engine()
    try:
        with engine.connect() as conn:
            from sqlalchemy import text

            rows = conn.execute(text("SELECT id, authority, email FROM directory_contact_point "
                                     "WHERE authority LIKE :p"), {"p": f"{label} %"}).all()
            audited = set(conn.execute(text(
                "SELECT target_id FROM audit_event WHERE action = 'directory.contact.create'")).scalars())
    finally:
        engine.dispose()
    stored = [r.authority for r in rows]
    missing = set(acknowledged) - set(stored)
    assert not missing, f"{len(missing)} acknowledged writes lost: {sorted(missing)[:5]}"
    assert len(stored) == len(set(stored)), "a write was stored twice"
    # No partial record: each contact is whole and has its audit entry (same transaction).
    assert all(r.email == "desk@ministry.example" for r in rows)
    unaudited = [r.id for r in rows if str(r.id) not in audited]
    assert not unaudited, f"contacts without their audit entry: {unaudited[:5]}"
    result = flask_cli(stack, "audit", "verify")
    assert result.returncode == 0, result.stderr
    return len(stored)


def test_sigkill_of_the_application_mid_write_loses_no_acknowledged_record(ops_stack: Stack) -> None:
    label = f"Crash{uuid.uuid4().hex[:6]}"
    rounds = 4
    writers = Writers(ops_stack, ["ITA", "ESP", "KEN"], label)
    ops_stack.wait_ready()
    with writers.running():
        for _ in range(rounds):
            time.sleep(random.uniform(0.8, 1.6))
            before = len(writers.acknowledged)
            for app in ops_stack.apps:
                app.kill()  # SIGKILL to master and workers: requests die mid-transaction
            for app in ops_stack.apps:
                app.start()
            assert before > 0
        time.sleep(1.0)
    ops_stack.wait_ready()
    assert writers.failed > 0, "the kills never interrupted a request"
    stored = check_invariants(ops_stack, label, writers.acknowledged)
    assert stored >= len(writers.acknowledged) > rounds


def test_database_restart_and_sigkill_under_load_need_no_application_restart(ops_stack: Stack) -> None:
    label = f"PgFault{uuid.uuid4().hex[:6]}"
    starts = [app.starts for app in ops_stack.apps]
    writers = Writers(ops_stack, ["ARG", "CAN", "AUS"], label)
    ops_stack.wait_ready()
    with writers.running():
        time.sleep(1.5)
        ops_stack.pg.restart_fast()
        time.sleep(2.0)
        ops_stack.pg.kill_and_start()  # crash recovery: "database system was interrupted"
        recovered_at = len(writers.acknowledged)
        deadline = time.time() + 30
        while len(writers.acknowledged) < recovered_at + 10 and time.time() < deadline:
            time.sleep(0.2)
    assert len(writers.acknowledged) >= recovered_at + 10, "writes did not resume after the crash"
    ops_stack.wait_ready()
    # The application processes were never restarted, and still serve.
    assert [app.starts for app in ops_stack.apps] == starts
    assert all(app.proc is not None and app.proc.poll() is None for app in ops_stack.apps)
    assert "redo" in ops_stack.pg.log() or "automatic recovery" in ops_stack.pg.log()
    browser = ops_stack.browser()
    try:
        assert browser.get("/readyz").status_code == 200
    finally:
        browser.close()
    check_invariants(ops_stack, label, writers.acknowledged)
