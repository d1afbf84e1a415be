"""Shared fixtures: settings per backend (SQLite and a real PostgreSQL), a real SMTP server on
loopback, one application per backend per worker, clean tables per test, and an AuthActions
helper that signs in through the real forms (CSRF stays on)."""

from __future__ import annotations

import gc
import os
import re
import time
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from cooperation import create_app
from cooperation.config import Settings
from cooperation.extensions import db
from tests.factories import make_user
from tests.mailbox import Mailbox
from tests.pg_server import PostgresServer

BACKENDS = ["sqlite", "postgresql"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--backends", default=os.environ.get("COOP_TEST_BACKENDS", "sqlite,postgresql"),
                     help="comma-separated database backends to run functional tests on")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`--dist loadgroup` for pytest 9: pytest-xdist 3.8 tags grouped tests by assigning
    `item._nodeid`, which pytest 9 no longer reads (the node id comes from `item._id`), so every
    xdist_group was silently scattered over the workers. Tag them where pytest 9 looks; the
    tests of a group (one live server, ordered module state) then run on one worker, in order."""
    if not getattr(config.option, "loadgroup", False):
        return
    from _pytest.nodeid import coerce_node_id

    for item in items:
        names = sorted({str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                        for mark in item.iter_markers("xdist_group")})
        if names and "@" not in item.nodeid:
            item._id = coerce_node_id(f"{item.nodeid}@{'_'.join(names)}")  # type: ignore[attr-defined]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        chosen = [b for b in metafunc.config.getoption("--backends").split(",") if b]
        metafunc.parametrize("backend", chosen, scope="session")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox().start()
    yield box
    box.stop()


def base_settings(tmp: Path, database_url: str, mailbox: Mailbox) -> Settings:
    return Settings(
        env="testing", secret_key="test-secret-key-" + "x" * 40, database_url=database_url,
        instance_path=str(tmp / "instance"), server_name="", mail_backend="smtp",
        mail_server="127.0.0.1", mail_port=mailbox.port,
        enabled_plugins=("directory", "noncooperation", "agreements", "travel"),
    )


@pytest.fixture(scope="session")
def database_url(backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'test.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return server.database(f"coop_{worker}")


@pytest.fixture(scope="session")
def settings(database_url: str, tmp_path_factory: pytest.TempPathFactory, mailbox: Mailbox) -> Settings:
    return base_settings(tmp_path_factory.mktemp("app"), database_url, mailbox)


@pytest.fixture(scope="session")
def _schema_app(settings: Settings) -> Iterator[Flask]:
    app = create_app(settings)
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()


def _clean(app: Flask) -> None:
    from cooperation.audit.service import ensure_head
    from cooperation.membership import services as membership

    with app.app_context():
        db.session.remove()
        with db.engine.begin() as conn:
            for table in reversed(db.metadata.sorted_tables):
                conn.execute(table.delete())
        ensure_head(db.session)
        membership.ensure_organisations(db.session)
        membership.import_states(db.session)
        db.session.commit()
        db.session.remove()


@pytest.fixture
def app(_schema_app: Flask, mailbox: Mailbox) -> Iterator[Flask]:
    """The backend's application with empty tables, the organisations and the States seeded."""
    _clean(_schema_app)
    mailbox.clear()
    with _schema_app.app_context():
        yield _schema_app
        db.session.remove()
        # Every request must hand its connection back: a leak here would exhaust production's
        # pool. Counted before any garbage collection, which would hide an unclosed session.
        leaked = db.engine.pool.checkedout()
    assert leaked == 0, f"{leaked} database connection(s) still checked out after the test"


@pytest.fixture
def make_app(settings: Settings, _schema_app: Flask) -> Iterator:
    """A fresh application with changed settings, on the same (already created) schema."""
    made: list[Flask] = []

    def factory(**changes: object) -> Flask:
        new = create_app(replace(settings, **changes))
        made.append(new)
        return new

    _clean(_schema_app)
    yield factory
    for a in made:
        with a.app_context():
            # Sessions that tests left open on these short-lived apps are collected here, while
            # their pool still exists, rather than warning later in an unrelated test.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ResourceWarning)
                gc.collect()
            db.engine.dispose()


class CommittingClient(FlaskClient):
    """The test's own database session commits before each request (so the view sees what the
    test set up) and after it (so the test then reads what the view wrote, not a stale snapshot)."""

    def open(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        db.session.commit()
        try:
            # A fresh application context per request, as in production: `g` (and with it
            # Flask-Login's current user) must not carry over from one request to the next.
            with self.application.app_context():
                return super().open(*args, **kwargs)
        finally:
            db.session.commit()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    app.test_client_class = CommittingClient
    return app.test_client()


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token in page"
    return match.group(1) or match.group(2)


class AuthActions:
    """Signs in through the real pages: password, then the authenticator code."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def csrf(self, path: str = "/login") -> str:
        return csrf_from(self.client.get(path).get_data(as_text=True))

    def password_step(self, email: str, password: str):  # type: ignore[no-untyped-def]
        token = self.csrf("/login")
        return self.client.post("/login", data={"email": email, "password": password, "csrf_token": token})

    def login(self, user, password: str = "correct horse battery staple"):  # type: ignore[no-untyped-def]
        response = self.password_step(user.email, password)
        assert response.status_code == 302, response.get_data(as_text=True)
        page = self.client.get("/login/verify").get_data(as_text=True)
        code = fresh_totp_code(user)
        response = self.client.post("/login/verify", data={"method": "totp", "totp-code": code,
                                                            "totp-csrf_token": csrf_from(page)})
        assert response.status_code == 302, response.get_data(as_text=True)
        return response

    def logout(self):  # type: ignore[no-untyped-def]
        token = self.csrf("/dashboard")
        return self.client.post("/logout", data={"csrf_token": token})


def fresh_totp_code(user) -> str:  # type: ignore[no-untyped-def]
    """A valid code never used before by this user (codes are single-use)."""
    from cooperation.accounts.models import User
    from cooperation.security import totp

    last = db.session.scalar(select(User.totp_last_step).where(User.id == user.id))
    db.session.rollback()
    now = time.time()
    step = int(now // totp.INTERVAL)
    if last is not None and step <= last:
        step = last + 1
        if step > int(now // totp.INTERVAL) + 1:
            time.sleep(totp.INTERVAL)
            step = int(time.time() // totp.INTERVAL)
    import pyotp

    return pyotp.TOTP(user.totp_secret).generate_otp(step)


@pytest.fixture
def auth(client: FlaskClient) -> AuthActions:
    return AuthActions(client)


@pytest.fixture
def users(app: Flask) -> dict[str, object]:
    """One user per role, in two different States (NLD, SEN) and the organisations."""
    from cooperation.permissions import Role

    made = {
        "admin": make_user("ASP-SEC", Role.SECRETARIAT_ADMIN, "admin@asp.test"),
        "editor": make_user("ICC-REG", Role.REGISTRY_EDITOR, "editor@registry.test"),
        "court": make_user("ICC-OTP", Role.COURT_MEMBER, "court@otp.test"),
        "focal_nl": make_user("NLD", Role.STATE_FOCAL_POINT, "focal@nl.test"),
        "member_nl": make_user("NLD", Role.STATE_MEMBER, "member@nl.test"),
        "focal_sn": make_user("SEN", Role.STATE_FOCAL_POINT, "focal@sn.test"),
        "member_sn": make_user("SEN", Role.STATE_MEMBER, "member@sn.test"),
    }
    db.session.commit()
    return made


@pytest.fixture
def postgresql_only(backend: str) -> None:
    """For a test about PostgreSQL itself (its planner, its wire format, its server process):
    it runs in the PostgreSQL run of the backend parametrisation and is skipped in the SQLite one."""
    if backend != "postgresql":
        pytest.skip("a PostgreSQL question; the PostgreSQL run of this test answers it")


def skip_unless_ci(reason: str) -> None:
    """Skip on a developer machine that lacks a tool; in CI the tool must be there, so fail."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI must provide it)")
    pytest.skip(reason)
