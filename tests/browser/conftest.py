"""Real-browser fixtures: the real application served on a loopback port by a threaded Werkzeug
server (SQLite; `pg_live_server`, a second one on the real PostgreSQL, only for the tests that
ask), one Debian Chromium per session driven by Playwright, a fresh browser context per test, and
helpers that create accounts directly in the database.

Playwright never downloads a browser here: it drives /usr/bin/chromium (deploy/dev/test.sh
installs Debian's package). The tests of this folder share one server, so they are marked
`xdist_group("browser")` and run on one worker under `--dist loadgroup`.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from cooperation import create_app
from cooperation.extensions import db
from cooperation.permissions import Role
from tests.conftest import _clean, base_settings, fresh_totp_code
from tests.factories import DEFAULT_PASSWORD, make_user
from tests.mailbox import Mailbox
from tests.pg_server import PostgresServer

CHROMIUM = os.environ.get("COOP_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # the suite runs as root in CI containers; Chromium refuses its sandbox there
    "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
# Generous for a 2-core machine shared with another pytest worker; a real hang still fails fast.
TIMEOUT_MS = 15_000

# One account per role, in two kinds of Party (like tests/conftest.py `users`).
ROLE_ACCOUNTS: dict[str, tuple[str, Role, str]] = {
    "admin": ("ASP-SEC", Role.SECRETARIAT_ADMIN, "admin@asp.test"),
    "editor": ("ICC-REG", Role.REGISTRY_EDITOR, "editor@registry.test"),
    "court": ("ICC-OTP", Role.COURT_MEMBER, "court@otp.test"),
    "focal_nl": ("NLD", Role.STATE_FOCAL_POINT, "focal@nl.test"),
    "member_nl": ("NLD", Role.STATE_MEMBER, "member@nl.test"),
}


# -- the live server ------------------------------------------------------------------------

class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr: pytest would show hundreds of lines on a failure."""

    def log_request(self, *args: object, **kwargs: object) -> None:
        pass


@dataclass
class LiveServer:
    app: Flask
    url: str
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def localhost_url(self) -> str:
        """The same server as http://localhost:<port>: WebAuthn needs a domain as relying-party
        id (Chromium refuses an IP address), and localhost is a secure context over plain HTTP."""
        return f"http://localhost:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
        with self.app.app_context():
            db.engine.dispose()


def _serve(tmp: Path, mailbox: Mailbox, **changes: object) -> LiveServer:
    """The application (settings changed by `changes`) on its own SQLite file (or the database
    `database_url` names) and port."""
    settings = replace(base_settings(tmp, f"sqlite:///{tmp / 'browser.sqlite3'}", mailbox), **changes)
    app = create_app(settings)
    with app.app_context():
        db.create_all()
    # Port 0: the kernel picks a free port, no race with another worker.
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    return LiveServer(app, f"http://127.0.0.1:{server.server_port}", server, thread)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox) -> Iterator[LiveServer]:
    live = _serve(tmp_path_factory.mktemp("browser"), mailbox)
    yield live
    live.stop()


@pytest.fixture(scope="session")
def pg_live_server(tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox,
                   postgres: PostgresServer) -> Iterator[LiveServer]:
    """The same application on the real PostgreSQL (tests/pg_server.py), in a database of its own
    per worker. Started only by the tests that ask (the interop canary reads its pg_dump)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    live = _serve(tmp_path_factory.mktemp("browser-pg"), mailbox,
                  database_url=postgres.database(f"coop_browser_{worker}"))
    yield live
    live.stop()


@pytest.fixture(scope="session")
def admin_key_server(tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox) -> Iterator[LiveServer]:
    """A second server whose application requires a security key of Secretariat administrators
    (require_webauthn_for_admins, the production default). Started only by the tests that ask."""
    live = _serve(tmp_path_factory.mktemp("browser-admin-key"), mailbox, require_webauthn_for_admins=True)
    yield live
    live.stop()


@pytest.fixture
def _fresh_data(live_server: LiveServer, mailbox: Mailbox) -> None:
    """Empty tables with the organisations and States seeded, and an empty mailbox, per test."""
    _clean(live_server.app)
    mailbox.clear()


# -- accounts -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Account:
    """A plain record (not an ORM object) so it outlives the database session that made it.
    `id` and `totp_secret` make it usable with tests.conftest.fresh_totp_code."""

    id: int
    email: str
    full_name: str
    role: Role
    party_code: str
    totp_secret: str
    password: str = DEFAULT_PASSWORD


class Accounts:
    """Creates users directly in the live application's database and computes their codes."""

    def __init__(self, app: Flask, url: str) -> None:
        self.app = app
        self.url = url

    def create(self, party_code: str, role: Role, email: str, **kwargs: object) -> Account:
        with self.app.app_context():
            user = make_user(party_code, role, email, **kwargs)  # type: ignore[arg-type]
            account = Account(user.id, user.email, user.full_name, user.role, party_code,
                              user.totp_secret or "", str(kwargs.get("password", DEFAULT_PASSWORD)))
            db.session.commit()
            db.session.remove()
        return account

    def for_role(self, key: str) -> Account:
        party_code, role, email = ROLE_ACCOUNTS[key]
        return self.create(party_code, role, email)

    def totp_code(self, account: Account) -> str:
        """A code this account has never used (tests.conftest.fresh_totp_code)."""
        with self.app.app_context():
            try:
                return fresh_totp_code(account)
            finally:
                db.session.remove()

    def run(self, work: Callable[[], object]) -> object:
        """Run `work` inside the live application (app and request context for url_for),
        commit what it did, and return its result."""
        with self.app.test_request_context(base_url=self.url):
            try:
                result = work()
                db.session.commit()
                return result
            except BaseException:
                db.session.rollback()
                raise
            finally:
                db.session.remove()


@pytest.fixture
def accounts(live_server: LiveServer, _fresh_data: None) -> Accounts:
    return Accounts(live_server.app, live_server.url)


@pytest.fixture
def admin_key_accounts(admin_key_server: LiveServer) -> Accounts:
    """Accounts on `admin_key_server`, whose tables are emptied (and seeded) for each test."""
    _clean(admin_key_server.app)
    return Accounts(admin_key_server.app, admin_key_server.localhost_url)


# -- the browser ------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's package "
                    "(apt-get install chromium), or run bash deploy/dev/test.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    report = yield
    if report.when == "call":
        item.stash[_CALL_FAILED] = report.failed
    return report


_CALL_FAILED = pytest.StashKey[bool]()


@pytest.fixture
def new_context(browser, live_server: LiveServer, request: pytest.FixtureRequest,  # type: ignore[no-untyped-def]
                _fresh_data: None) -> Iterator[Callable[..., object]]:
    """Factory of isolated browser contexts (own cookies), closed after the test.
    `bypass_csp=True` only for injecting axe-core: the application's CSP forbids it, rightly.
    After a failed test, a screenshot of each open page goes to test-artifacts/browser/."""
    made = []

    def factory(**options: object):  # type: ignore[no-untyped-def]
        options.setdefault("base_url", live_server.url)
        options.setdefault("locale", "en-GB")
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        made.append(context)
        return context

    yield factory
    failed = request.node.stash.get(_CALL_FAILED, False)
    for number, context in enumerate(made):
        if failed:
            _screenshot(context, request.node.name, number)
        context.close()


def _screenshot(context, test_name: str, number: int) -> None:  # type: ignore[no-untyped-def]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in test_name)
    for index, page in enumerate(context.pages):
        try:
            page.screenshot(path=str(ARTIFACTS / f"{safe}-{number}-{index}.png"), full_page=True)
        except Exception:  # noqa: BLE001, S110 - a screenshot must never hide the real failure
            pass


@pytest.fixture
def page(new_context):  # type: ignore[no-untyped-def]
    return new_context().new_page()
