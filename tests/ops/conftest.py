"""Fixtures of the real stack: one durable PostgreSQL, two gunicorn instances in a production
configuration, nginx with TLS in front; and a Browser that signs in through the real forms."""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pyotp
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import skip_unless_ci
from tests.mailbox import Mailbox
from tests.ops.stack import PASSWORD, AppInstance, DurablePostgres, Nginx, free_port

logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request otherwise
SECRET_KEY = "ops-stack-secret-" + "k" * 48
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')
FOCAL_STATES = ("NLD", "SEN", "FRA", "DEU", "BRA", "JPN", "ITA", "ESP", "KEN", "ARG", "CAN", "AUS")


def csrf_of(html: str, prefix: str = "") -> str:
    pattern = re.compile(rf'name="{re.escape(prefix)}csrf_token" type="hidden" value="([^"]+)"'
                         rf'|name="{re.escape(prefix)}csrf_token" value="([^"]+)"')
    match = pattern.search(html)
    assert match, f"no {prefix}csrf_token in page: {html[:300]}"
    return match.group(1) or match.group(2)


@dataclass
class Account:
    email: str
    totp_secret: str
    party_code: str
    user_id: int = 0


@dataclass
class Stack:
    pg: DurablePostgres
    database_url: str
    env: dict[str, str]
    apps: list[AppInstance]
    nginx: Nginx
    workdir: Path
    accounts: dict[str, Account] = field(default_factory=dict)

    def engine(self):  # type: ignore[no-untyped-def]
        return create_engine(self.database_url, pool_pre_ping=True)

    def scalar(self, sql: str, **params: object) -> object:
        engine = self.engine()
        try:
            with engine.connect() as conn:
                return conn.execute(text(sql), params).scalar()
        finally:
            engine.dispose()

    def diagnostics(self, lines: int = 30) -> str:
        """The tails of nginx's error logs and of every instance's log, for a failure message."""
        def tail(path: Path) -> str:
            text = path.read_text(errors="replace") if path.exists() else "(none)"
            return "\n".join(text.splitlines()[-lines:])

        parts = [f"== {path.name}\n{tail(path)}" for path in sorted(self.nginx.workdir.rglob("*error.log"))]
        parts += [f"== instance {app.port}\n{tail(app.log_path)}" for app in self.apps]
        return "\n".join(parts)

    def wait_ready(self, timeout: float = 40.0) -> None:
        """Until nginx reaches every running instance again: after a kill or a stop, nginx
        keeps an upstream out for fail_timeout (10 s), answering 502 or using the others."""
        deadline = time.time() + timeout
        running = [a for a in self.apps if a.proc is not None and a.proc.poll() is None]
        seen: set[int] = set()
        ids: list[str] = []
        with httpx.Client(base_url=self.nginx.url, verify=self.nginx.ssl_context(), timeout=5) as client:
            while True:
                try:
                    response = client.get("/readyz")
                    if response.status_code == 200:
                        ids.append(response.headers["X-Request-ID"])
                except httpx.TransportError:
                    pass
                if len(ids) % 4 == 0 and ids:
                    seen = {a.port for a in running if any(rid in a.log() for rid in ids[-20:])}
                    if seen == {a.port for a in running}:
                        return
                assert time.time() < deadline, f"nginx did not reach every instance again: {seen}"
                time.sleep(0.25)

    def browser(self) -> Browser:
        return Browser(self.nginx.url, self.nginx.ssl_context(), self.scalar)


class Browser:
    """An HTTPS client through nginx that behaves like a browser for CSRF (token + Referer)."""

    def __init__(self, base: str, verify: object, scalar: Callable[..., object]) -> None:
        self.base = base
        self.scalar = scalar  # reads the database (the last TOTP step used)
        self.client = httpx.Client(base_url=base, verify=verify,  # type: ignore[arg-type]
                                   follow_redirects=False, timeout=30)

    def close(self) -> None:
        self.client.close()

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return self.client.get(path, **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, data: dict[str, str], referer: str | None = None) -> httpx.Response:
        return self.client.post(path, data=data, headers={"Referer": self.base + (referer or path)})

    def form_post(self, page: str, action: str, data: dict[str, str], prefix: str = "") -> httpx.Response:
        html = self.get(page).text
        return self.post(action, {**data, f"{prefix}csrf_token": csrf_of(html, prefix)}, referer=page)

    def login(self, account: Account) -> None:
        response = self.form_post("/login", "/login", {"email": account.email, "password": PASSWORD})
        assert response.status_code == 302, response.text[:500]
        code = fresh_code(self.scalar, account)
        response = self.form_post("/login/verify", "/login/verify",
                                  {"method": "totp", "totp-code": code}, prefix="totp-")
        assert response.status_code == 302, response.text[:500]
        assert self.get("/dashboard").status_code == 200


def fresh_code(scalar: Callable[..., object], account: Account) -> str:
    """A code for a step this account never used (codes are single-use)."""
    last = scalar("SELECT totp_last_step FROM user_account WHERE email = :e", e=account.email)
    step = int(time.time() // 30)
    if last is not None and step <= int(last):  # type: ignore[arg-type]
        time.sleep(30 - time.time() % 30 + 0.2)
        step = int(time.time() // 30)
    return pyotp.TOTP(account.totp_secret).generate_otp(step)


def prepare_schema(env: dict[str, str], accounts: dict[str, Account]) -> None:
    """Schema, organisations, States and accounts, written by the app's own code in-process."""
    from cooperation import create_app
    from cooperation.audit.service import ensure_head
    from cooperation.config import Settings
    from cooperation.extensions import db
    from cooperation.membership import services as membership
    from cooperation.permissions import Role
    from tests.factories import make_user

    app = create_app(Settings.from_env(env))
    with app.app_context():
        db.create_all()
        ensure_head(db.session)
        membership.ensure_organisations(db.session)
        membership.import_states(db.session)
        db.session.commit()
        for key, account in accounts.items():
            role = Role.SECRETARIAT_ADMIN if key == "admin" else Role.STATE_FOCAL_POINT
            user = make_user(account.party_code, role, account.email)
            account.totp_secret = user.totp_secret
            db.session.flush()
            account.user_id = user.id
        db.session.commit()
        db.session.remove()
        db.engine.dispose()


def stack_env(database_url: str, nginx_port: int, mailbox: Mailbox, instance: Path) -> dict[str, str]:
    return {
        "COOPERATION_ENV": "production",
        "SECRET_KEY": SECRET_KEY,
        "DATABASE_URL": database_url,
        "COOPERATION_INSTANCE_PATH": str(instance),
        "SERVER_NAME": f"127.0.0.1:{nginx_port}",
        "PREFERRED_URL_SCHEME": "https",
        "MAIL_BACKEND": "smtp",
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": str(mailbox.port),
        "COOPERATION_PLUGINS": "directory",
        "LOG_FORMAT": "json",
        "RATE_LIMIT_EXPORTS": "5/hour",
    }


@pytest.fixture(scope="session")
def ops_stack(mailbox: Mailbox) -> Iterator[Stack]:
    if shutil.which("nginx") is None:
        skip_unless_ci("nginx is not installed (bash deploy/dev/test.sh installs it)")
    workdir = Path(tempfile.mkdtemp(prefix="coop-ops-"))
    pg = DurablePostgres().start()
    nginx_port = free_port()
    url = pg.create_database("coop_ops")
    env = stack_env(url, nginx_port, mailbox, workdir / "instance")
    accounts = {code.lower(): Account(f"focal-{code.lower()}@ops.test", "", code) for code in FOCAL_STATES}
    prepare_schema(env, accounts)
    apps = [AppInstance(free_port(), env, workdir) for _ in range(2)]
    # One test client signs in ~15 times within minutes from one address: the shipped per-address
    # sign-in rate (20/min) would answer 429 (as it should for a real client).
    nginx = Nginx(workdir / "nginx", [a.port for a in apps], https_port=nginx_port,
                  rate_overrides={"cooperation_login": "300r/m"})
    stack = Stack(pg, url, env, apps, nginx, workdir, accounts)
    try:
        for a in apps:
            a.start()
        nginx.start()
        yield stack
    finally:
        nginx.stop()
        for a in apps:
            a.stop()
        pg.stop()
        shutil.rmtree(workdir, ignore_errors=True)
