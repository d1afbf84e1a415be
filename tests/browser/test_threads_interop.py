"""The browser and the Python client read each other, through the real server (PROTOCOL.md §12).

Senegal's focal point uses the Python client (`cooperation_client.client`), signed in with the
OAuth device flow that they approve in their browser; the Netherlands' focal point uses the
thread pages in Chromium. The client creates a thread with a title, a Court reference, a message
and an attachment; the browser lists and reads them and downloads identical bytes; the browser
replies (reply_to: the client's message) with its own attachment, which the client reads and
downloads identically; the client answers that reply, which the browser shows as a reply to it.
A random marker rides in every secret field on both sides: afterwards it is nowhere in the
database, the attachment store or the server's log records.

It runs once per backend of `--backends`: on SQLite (the database file with its WAL) and on the
real PostgreSQL (`pg_dump` of the database, its data files after a CHECKPOINT, the WAL, and
PostgreSQL's own log).
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import secrets
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import text, update

from cooperation.permissions import Role
from cooperation_client.client import Client
from cooperation_client.client.oauth import DeviceCode
from tests.browser.conftest import TIMEOUT_MS, Accounts, LiveServer
from tests.browser.pages import Navigator
from tests.browser.test_threads_browser import _enrol, _message, _send
from tests.conftest import _clean
from tests.functional.oauth_helpers import register_client

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One run per backend of --backends. A function-scoped parameter of its own, not the
    session-scoped `backend`: switching that one would set the worker's session fixtures up again."""
    if "database" in metafunc.fixturenames:
        metafunc.parametrize("database", [b for b in metafunc.config.getoption("--backends").split(",") if b])


def _client_signed_in(browser, server: LiveServer, accounts: Accounts, account, home: Path) -> Client:  # type: ignore[no-untyped-def]
    """The device flow as a person lives it: the client shows a code, the user signs in to the
    platform in their browser and approves it; the client's next poll gets the tokens."""
    from cooperation.extensions import db
    from cooperation.oauth.models import DeviceAuthorization

    client = Client.open(home=str(home), server=server.url)
    shown: list[DeviceCode] = []
    context = browser.new_context(base_url=server.url, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    approved: list[bool] = []

    def between_polls(_seconds: float) -> None:
        if not approved:
            Navigator(page).sign_in(account.email, account.password, accounts.totp_code(account))
            page.goto(f"/device?user_code={shown[0].user_code}")
            page.get_by_role("button", name="Continue").click()
            page.get_by_role("button", name="Allow access").click()
            expect(page.locator("main")).to_contain_text("You can return to")
            approved.append(True)
        # The test does not wait the real polling interval: it lets the next poll through.
        accounts.run(lambda: db.session.execute(update(DeviceAuthorization).values(last_polled_at=None)))

    try:
        client.login(shown.append, sleep=between_polls)
    finally:
        context.close()
    return client


def test_browser_and_python_client_read_each_other(browser, database: str, request: pytest.FixtureRequest,  # type: ignore[no-untyped-def]
                                                   tmp_path: Path) -> None:
    live_server: LiveServer = request.getfixturevalue("live_server" if database == "sqlite" else "pg_live_server")
    _clean(live_server.app)  # the group's modules run one after another; each starts from a clean server
    accounts = Accounts(live_server.app, live_server.url)
    accounts.run(lambda: register_client(live_server.app))
    nl_account = accounts.create("NLD", Role.STATE_FOCAL_POINT, "interop@nl.example.org", full_name="Noor de Vries")
    sn_account = accounts.create("SEN", Role.STATE_FOCAL_POINT, "interop@sn.example.org", full_name="Awa Diop")
    marker = "CANARY" + secrets.token_hex(8)
    records = io.StringIO()
    handler = logging.StreamHandler(records)
    logging.getLogger().addHandler(handler)
    previous_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)
    context = browser.new_context(base_url=live_server.url, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    try:
        page = context.new_page()
        Navigator(page).sign_in(nl_account.email, nl_account.password, accounts.totp_code(nl_account))
        _enrol(page)
        client = _client_signed_in(browser, live_server, accounts, sn_account, tmp_path / "sn")
        try:
            client.enrol("SN case system")
            # Python -> browser: thread, message, attachment.
            from_client = tmp_path / f"registry-extract-{marker}.txt"
            client_bytes = f"Company register extract, director {marker}\n".encode() + secrets.token_bytes(1_500_000)
            from_client.write_bytes(client_bytes)
            thread_id = client.create_thread(title=f"Freezing {marker}", topic="freezing", parties=["NLD"],
                                             court_ref=f"ICC-02/{marker}")
            request_id = client.post(thread_id, f"Please freeze the accounts of {marker}.",
                                     handling="no-evidential-use", attachments=[from_client])

            page.goto("/threads")
            expect(page.locator("#thread-list tbody tr").get_by_role("link")).to_have_text(f"Freezing {marker}")
            page.goto(f"/threads/{thread_id}")
            expect(page.get_by_role("heading", level=1)).to_have_text(f"Freezing {marker}")
            expect(page.locator("#thread-court-ref")).to_have_text(f"ICC-02/{marker}")
            message = _message(page, f"Please freeze the accounts of {marker}.")
            expect(message.locator(".sender")).to_have_text("Awa Diop")
            expect(message.locator(".badge.verified")).to_have_text("Signature verified")
            expect(message.locator(".handling")).to_have_text("Handling: Not for use as evidence")
            with page.expect_download() as download_info:
                message.get_by_role("button", name=re.compile(rf"^Download {re.escape(from_client.name)}")).click()
            download = download_info.value
            assert download.suggested_filename == from_client.name
            assert Path(download.path()).read_bytes() == client_bytes

            # Browser -> Python: a reply to the client's message, with an attachment.
            reply_name = f"bank-letter-{marker}.bin"
            browser_bytes = hashlib.shake_256(marker.encode()).digest(2 * 1024 * 1024 + 77)
            message.get_by_role("button", name="Reply to Awa Diop").click()
            expect(page.locator("#composer-reply")).to_contain_text(
                f"Replying to Awa Diop: Please freeze the accounts of {marker}.")
            _send(page, f"Frozen today; the letter of {marker} is attached.", "Participants only",
                  [{"name": reply_name, "mimeType": "application/octet-stream", "buffer": browser_bytes}])
            expect(_message(page, "Frozen today").get_by_role("link", name="In reply to Awa Diop")).to_be_visible()

            items = client.messages(thread_id)
            assert [item.ok for item in items] == [True, True]
            reply = items[-1]
            assert reply.text == f"Frozen today; the letter of {marker} is attached."
            assert reply.handling == "participants-only" and reply.sender_id == nl_account.id
            assert reply.reply_to == request_id and items[0].reply_to is None
            (attachment,) = reply.attachments
            assert attachment.name == reply_name and attachment.size == len(browser_bytes)
            out_dir = tmp_path / "received"
            out_dir.mkdir()
            saved = client.download(thread_id, attachment.file_id, out_dir)
            assert saved.read_bytes() == browser_bytes

            # Python -> browser: an answer to the browser's reply, shown linked to and quoting it.
            client.post(thread_id, f"Thank you for the letter of {marker}.", handling="participants-only",
                        reply_to=reply.msg_id)
            page.get_by_role("button", name="Check for new messages").click()
            answer = _message(page, "Thank you for the letter")
            expect(answer.get_by_role("link", name="In reply to Noor de Vries (you)")).to_have_attribute(
                "href", f"#msg-{reply.msg_id}")
            expect(answer.locator(".reply-quote")).to_have_text(f"Frozen today; the letter of {marker} is attached.")
            # Both sides compute the same safety number for the pair of them.
            number, pinned = client.safety_number(nl_account.id)
            assert pinned and re.fullmatch(r"(\d{5} ){11}\d{5}", number)
        finally:
            client.close()
    finally:
        context.close()
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(previous_level)

    # The canary: not in the database, the attachment store or the log records, in any form.
    from cooperation.threads.storage import FilesystemStorage

    needles = [marker.encode(), marker.encode().hex().encode()]
    # A control that these places hold what the server stored: an account's e-mail address.
    known = sn_account.email.encode()
    if database == "sqlite":
        path = Path(live_server.app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///"))
        places = {p.name: p.read_bytes() for p in path.parent.glob(path.name + "*")}
        assert path.name in places and any(known in data for data in places.values())
    else:
        places = _postgresql_places(live_server, request.getfixturevalue("postgres"), known)
    store = FilesystemStorage.from_app(live_server.app).root
    stored = [p for p in store.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in stored) > len(client_bytes) + len(browser_bytes)
    places.update({f"store/{p.relative_to(store)}": p.read_bytes() + str(p).encode() for p in stored})
    places["log records"] = records.getvalue().encode()
    assert "request" in records.getvalue()  # the server did log these requests
    for place, data in places.items():
        for needle in needles:
            assert needle not in data, f"the marker leaked into {place}"



def _postgresql_places(server: LiveServer, postgres, known: bytes) -> dict[str, bytes]:  # type: ignore[no-untyped-def]
    """What PostgreSQL holds of the live server's database: its pg_dump, its data files once a
    CHECKPOINT has written every change out, the WAL, and the server's own log. `known`, a value
    the server stored in clear, must be in the dump and in the data files."""
    from cooperation.extensions import db

    url = server.app.config["SQLALCHEMY_DATABASE_URI"]
    dump = subprocess.run([str(postgres.bindir / "pg_dump"), "--no-owner",
                           url.replace("postgresql+psycopg://", "postgresql://")],
                          capture_output=True, check=True, timeout=120).stdout
    assert b"thread_message" in dump and b"thread_attachment" in dump and len(dump) > 10_000
    with server.app.app_context():
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("CHECKPOINT"))
            oid = conn.execute(text("SELECT oid FROM pg_database WHERE datname = current_database()")).scalar_one()
    places = {"PostgreSQL dump": dump, "PostgreSQL log": (postgres.tmp / "log").read_bytes()}
    for folder in (postgres.datadir / "base" / str(oid), postgres.datadir / "pg_wal"):
        files = [p for p in folder.iterdir() if p.is_file()]
        assert files, folder
        places.update({f"PostgreSQL file {p.relative_to(postgres.datadir)}": p.read_bytes() for p in files})
    assert known in dump
    assert any(known in data for name, data in places.items() if name.startswith("PostgreSQL file base/"))
    return places
