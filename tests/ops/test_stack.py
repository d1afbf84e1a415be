"""Smoke test through the real stack: nginx (TLS) -> two gunicorn instances -> PostgreSQL.

Sessions, rate limits and the audit chain are shared through the database, so they hold across
instances: a session started on one instance works on the other, a limit of 5 allows 5 in
total, and concurrent audit appends through both instances never fork the chain.
(Posting an end-to-end encrypted message with the Python client is not part of the platform
yet; it will join this smoke test when it is.)
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import uuid

import httpx
import pytest

from tests.ops.conftest import Browser, Stack
from tests.ops.stack import VENV_BIN

pytestmark = [pytest.mark.ops, pytest.mark.xdist_group("ops")]


def served_by(stack: Stack, request_id: str) -> list[int]:
    """Which instances logged a request line with this id (from their JSON stdout)."""
    found = []
    for app in stack.apps:
        for line in app.log().splitlines():
            if request_id in line and '"logger": "cooperation.request"' in line:
                found.append(app.port)
                break
    return found


def flask_cli(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **stack.env}
    return subprocess.run([str(VENV_BIN / "flask"), "--app", "cooperation", *args], env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def create_contact(browser: Browser, code: str, authority: str) -> httpx.Response:
    page = f"/directory/states/{code}/contacts/new"
    return browser.form_post(page, page, {"topic": "asset_tracing_freezing", "authority": authority,
                                          "email": "desk@ministry.example"})


def test_tls_headers_request_ids_and_closed_metrics(ops_stack: Stack) -> None:
    browser = ops_stack.browser()
    try:
        response = browser.get("/login", headers={"X-Forwarded-For": "203.0.113.9"})
        assert response.status_code == 200
        assert response.headers["Strict-Transport-Security"].startswith("max-age=63072000")
        rid = response.headers["X-Request-ID"]
        assert len(rid) == 32 and response.headers.get_list("X-Request-ID") == [rid]
        assert "nginx" not in response.headers.get("Server", "").lower() or "/" not in response.headers["Server"]
        # nginx's id reached the app, and the app logged the real client (not the spoofed hop).
        line = next(json.loads(l) for a in ops_stack.apps for l in a.log().splitlines()
                    if rid in l and '"cooperation.request"' in l)
        assert line["client"] == "127.0.0.1" and line["path"] == "/login" and line["status"] == 200
        # /metrics is never reachable through the proxy.
        assert browser.get("/metrics").status_code == 404
        # Static files come from nginx, cached.
        static = browser.get("/static/css/app.css")
        assert static.status_code == 200 and "public" in static.headers["Cache-Control"]
        assert "Expires" in static.headers
        assert served_by(ops_stack, static.headers["X-Request-ID"]) == []
    finally:
        browser.close()
    # TLS 1.2 and 1.3 are served; 1.1 and 1.0 are refused by the server (the client below is
    # allowed to offer them, and the same client reaches TLS 1.2, so the refusal is nginx's).
    for version, accepted in (("-tls1_3", True), ("-tls1_2", True), ("-tls1_1", False), ("-tls1", False)):
        result = subprocess.run(
            ["openssl", "s_client", "-connect", f"127.0.0.1:{ops_stack.nginx.https_port}", version,
             "-cipher", "DEFAULT:@SECLEVEL=0", "-CAfile", str(ops_stack.nginx.cert)],
            input="", capture_output=True, text=True, timeout=20, check=False)
        handshake = "Verify return code: 0 (ok)" in result.stdout and result.returncode == 0
        assert handshake is accepted, (version, result.stdout[-400:], result.stderr[-400:])


def test_a_session_started_on_one_instance_works_on_the_other(ops_stack: Stack) -> None:
    first, second = ops_stack.apps
    browser = ops_stack.browser()
    try:
        second.stop()  # sign in through the first instance only
        browser.login(ops_stack.accounts["nld"])
        second.start()
        first.stop()  # then continue through the second instance only
        ops_stack.wait_ready()  # nginx tries the second again (it was marked down meanwhile)
        response = browser.get("/account")
        assert response.status_code == 200 and ops_stack.accounts["nld"].email in response.text
        assert served_by(ops_stack, response.headers["X-Request-ID"]) == [second.port]
    finally:
        if first.proc is None or first.proc.poll() is not None:
            first.start()
        browser.close()
        ops_stack.wait_ready()


def test_a_limit_of_five_allows_five_in_total_across_instances(ops_stack: Stack) -> None:
    ops_stack.wait_ready()
    browser = ops_stack.browser()
    try:
        browser.login(ops_stack.accounts["sen"])
        statuses, ids = [], []
        for _ in range(9):
            response = browser.get("/directory/export.csv")
            statuses.append(response.status_code)
            ids.append(response.headers["X-Request-ID"])
        assert statuses == [200] * 5 + [429] * 4, statuses
        assert int(browser.get("/directory/export.csv").headers["Retry-After"]) > 0
        # Both instances served some of the five: the limit is not per instance.
        ports = {p for rid in ids[:5] for p in served_by(ops_stack, rid)}
        assert ports == {a.port for a in ops_stack.apps}, ports
    finally:
        browser.close()
    refused = ops_stack.scalar("SELECT count(*) FROM audit_event WHERE action = 'ratelimit.refused'")
    assert refused >= 4  # type: ignore[operator]


def test_concurrent_audit_appends_through_both_instances_never_fork_the_chain(ops_stack: Stack) -> None:
    codes = ["FRA", "DEU", "BRA", "JPN"]
    browsers = {code: ops_stack.browser() for code in codes}
    acknowledged: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()
    try:
        for code, browser in browsers.items():
            browser.login(ops_stack.accounts[code.lower()])

        def writer(code: str) -> None:
            for i in range(8):
                authority = f"Concurrent {code} {i} {uuid.uuid4().hex[:8]}"
                response = create_contact(browsers[code], code, authority)
                with lock:
                    (acknowledged if response.status_code == 302 else errors).append(
                        authority if response.status_code == 302 else f"{response.status_code}")

        threads = [threading.Thread(target=writer, args=(code,)) for code in codes]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=240)
    finally:
        for b in browsers.values():
            b.close()
    assert errors == [] and len(acknowledged) == 32
    stored = ops_stack.scalar("SELECT count(*) FROM directory_contact_point WHERE authority LIKE 'Concurrent %'")
    assert stored == 32
    forks = ops_stack.scalar("SELECT count(*) - count(DISTINCT prev_hash) FROM audit_event")
    assert forks == 0
    result = flask_cli(ops_stack, "audit", "verify")
    assert result.returncode == 0, result.stderr
    assert "Audit chain intact" in result.stdout
