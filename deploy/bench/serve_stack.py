"""Start the production stack on loopback for the load test and seed 50 States x 4 users.

  .venv/bin/python deploy/bench/serve_stack.py WORKDIR   (prints READY <url>, then serves until
  SIGTERM/SIGINT). Writes WORKDIR/accounts.json and the nginx certificate WORKDIR/nginx/cert.pem
  for the load generator.

The set-up runs in this process, directly through the services, before the servers start:
every account gets published keys (identity, one device, key generation 1); each pair of
neighbouring States (in code order) shares one encrypted thread whose signed create event opens
epoch 1 for the 8 users of both, with PRE_POSTED real TEK1 envelopes and one completed
ATTACHMENT_SIZE attachment. So every user is a member of 1 or 2 threads with another State.
accounts.json holds, per account: email, TOTP secret, State, user id, focal point or not, the
device id and the device's Ed25519 signing seed (so that locust signs its envelopes as that
device), and its threads with their attachment (id, size, SHA-256). Throwaway bench accounts on a
throwaway database: nothing in it is a real user's secret.

Same components as tests/ops (tests/ops/stack.py): durable PostgreSQL, two gunicorn instances
with deploy/gunicorn.conf.py, nginx with deploy/nginx/cooperation.conf. One change for a load
test from ONE address: nginx's per-address request rates are raised (they would otherwise
throttle the 200 simulated users as one flooding client), and the per-user export limit.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.mailbox import Mailbox  # noqa: E402
from tests.ops.conftest import stack_env  # noqa: E402
from tests.ops.stack import AppInstance, DurablePostgres, Nginx, free_port  # noqa: E402

STATES = 50
USERS_PER_STATE = 4  # two focal points, two members
PRE_POSTED = 60  # messages per thread before the run: "latest 50" reads a full page
ATTACHMENT_SIZE = 384 * 1024  # one per thread, uploaded in two parts
ATTACHMENT_PART = 256 * 1024


def seed(env: dict[str, str], workdir: Path) -> list[dict[str, Any]]:
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
    accounts: list[dict[str, Any]] = []
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
        seed_threads(app, accounts, [p.code for p in states])
        db.session.remove()
        db.engine.dispose()
    (workdir / "accounts.json").write_text(json.dumps(accounts))
    return accounts


def seed_threads(app: Any, accounts: list[dict[str, Any]], codes: list[str]) -> None:
    """Keys for every account, then one thread per pair of neighbouring States (see above)."""
    from cooperation.accounts.models import User
    from cooperation.audit.service import Actor
    from cooperation.extensions import db
    from cooperation.threads import services as s
    from cooperation.threads.storage import get_storage
    from cryptography.hazmat.primitives import serialization
    from tests.functional.test_threads_api_kit import envelope, seed_keys

    session = db.session
    actor = Actor.system("load-seed")
    storage = get_storage(app)
    raw = serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    devices = {}
    for account in accounts:
        dev = devices[account["user_id"]] = seed_keys(account["user_id"])
        account.update(device_id=dev.device_id, device_seed=dev.sig.private_bytes(*raw).hex(), threads=[])
    session.commit()
    by_state: dict[str, list[dict[str, Any]]] = {}
    for account in accounts:
        by_state.setdefault(account["state"], []).append(account)
    for left, right in zip(codes, codes[1:]):
        members = by_state[left] + by_state[right]
        owner = session.get(User, members[0]["user_id"])  # the left State's first focal point
        owner_dev = devices[owner.id]
        thread = s.create_thread(session, owner, [right], actor)
        _, member = s.membership(session, owner, thread.id)
        body = os.urandom(200)  # stands for the encrypted event body
        s.append_event(session, owner, thread, member, s.EventIn(
            seq=0, prev_hash=bytes(32), kind="create", device_id=owner_dev.device_id, body=body,
            signature=owner_dev.sign_event(body), users=tuple(m["user_id"] for m in members),
            meta=os.urandom(96), epoch=1, wraps=tuple(s.WrapIn(m["user_id"], 1, os.urandom(80)) for m in members)),
            actor)
        for n in range(PRE_POSTED):
            user = session.get(User, members[n % len(members)]["user_id"])
            s.post_message(session, user, thread,
                           envelope(thread.id, 1, user.id, devices[user.id], os.urandom(700 + n % 300)))
        content = os.urandom(ATTACHMENT_SIZE)  # stands for an encrypted file
        attachment = s.create_upload(session, owner, thread, size=ATTACHMENT_SIZE, part_size=ATTACHMENT_PART,
                                     storage=storage, max_size=ATTACHMENT_SIZE, actor=actor)
        for number, start in enumerate(range(0, ATTACHMENT_SIZE, ATTACHMENT_PART)):
            part = content[start:start + ATTACHMENT_PART]
            s.store_part(session, storage, attachment, number, io.BytesIO(part), len(part))
        session.flush()
        s.complete_upload(session, owner, attachment, actor)
        entry = {"id": thread.id, "attachment": attachment.id, "attachment_size": ATTACHMENT_SIZE,
                 "attachment_sha256": hashlib.sha256(content).hexdigest()}
        session.commit()
        for m in members:
            m["threads"].append(entry)


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
