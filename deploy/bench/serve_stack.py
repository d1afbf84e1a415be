"""Start the production stack on loopback for the load test and seed 50 States x 4 users.

  .venv/bin/python deploy/bench/serve_stack.py WORKDIR   (prints READY <url>, then serves until
  SIGTERM/SIGINT). Writes WORKDIR/accounts.json (email, TOTP secret, State, user id) and the
  nginx certificate WORKDIR/nginx/cert.pem for the load generator.

Same components as tests/ops (tests/ops/stack.py): durable PostgreSQL, two gunicorn instances
with deploy/gunicorn.conf.py, nginx with deploy/nginx/cooperation.conf. One change for a load
test from ONE address: nginx's per-address request rates are raised (they would otherwise
throttle the 200 simulated users as one flooding client), and the per-user export limit.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.mailbox import Mailbox  # noqa: E402
from tests.ops.conftest import stack_env  # noqa: E402
from tests.ops.stack import AppInstance, DurablePostgres, Nginx, free_port  # noqa: E402

STATES = 50
USERS_PER_STATE = 4  # two focal points, two members


def seed(env: dict[str, str], workdir: Path) -> list[dict[str, object]]:
    from cooperation import create_app
    from cooperation.audit.service import Actor, ensure_head
    from cooperation.config import Settings
    from cooperation.extensions import db
    from cooperation.membership import services as membership
    from cooperation.membership.models import Party
    from cooperation.permissions import Role
    from cooperation_directory import services as directory
    from cooperation_directory.models import Topic
    from sqlalchemy import select
    from tests.factories import make_user

    app = create_app(Settings.from_env(env))
    accounts: list[dict[str, object]] = []
    with app.app_context():
        db.create_all()
        ensure_head(db.session)
        membership.ensure_organisations(db.session)
        membership.import_states(db.session)
        db.session.commit()
        states = [p for p in db.session.scalars(select(Party).order_by(Party.code)) if p.is_state][:STATES]
        for party in states:
            code = party.code.lower()
            for i in range(USERS_PER_STATE):
                role = Role.STATE_FOCAL_POINT if i < 2 else Role.STATE_MEMBER
                user = make_user(party.code, role, f"load-{code}-{i}@{code}.load.test")
                db.session.flush()
                accounts.append({"email": user.email, "totp_secret": user.totp_secret, "state": party.code,
                                 "user_id": user.id, "focal": role == Role.STATE_FOCAL_POINT})
            focal = db.session.scalar(select(type(user)).where(type(user).email == f"load-{code}-0@{code}.load.test"))
            for t in range(2):
                directory.create(db.session, focal, party, directory.ContactData(
                    topic=Topic.ASSET_TRACING_FREEZING, authority=f"Authority {party.code} {t}",
                    email=f"desk{t}@{code}.load.test"),
                    Actor.system("load-seed"))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    (workdir / "accounts.json").write_text(json.dumps(accounts))
    return accounts


def main() -> None:
    workdir = Path(sys.argv[1]).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    mailbox = Mailbox().start()
    pg = DurablePostgres().start()
    nginx_port = free_port()
    env = stack_env(pg.create_database("coop_load"), nginx_port, mailbox, workdir / "instance")
    env["RATE_LIMIT_EXPORTS"] = "600/hour"
    seed(env, workdir)
    apps = [AppInstance(free_port(), env, workdir, workers=3) for _ in range(2)]
    nginx = Nginx(workdir / "nginx", [a.port for a in apps], https_port=nginx_port,
                  rate_overrides={"cooperation_login": "6000r/m", "cooperation_general": "5000r/s"})
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        for a in apps:
            a.start()
        nginx.start()
        print(f"READY {nginx.url}", flush=True)
        stop.wait()
    finally:
        nginx.stop()
        for a in apps:
            a.stop()
        pg.stop()
        mailbox.stop()


if __name__ == "__main__":
    main()
