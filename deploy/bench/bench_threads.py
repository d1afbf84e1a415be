"""Benchmark (not a test): the threads API behind gunicorn, on SQLite (default) or PostgreSQL.

Measures, with clients signed in through the real login (password + TOTP):
  - posting ~1 KiB pre-encrypted TEK1 envelopes with 1, 8 and 32 concurrent clients
    (targets: >= 250 posts/s at 8 and 32 clients; p95 < 50 ms at 8, < 160 ms at 32);
  - "latest 50" latency on threads of 100 and 100,000 messages (target p95 < 6 ms, and the
    two within 1.5x of each other);
  - a 256 MiB attachment uploaded in 8 MiB parts, one at a time (the browser) and two at a time
    (the Python client), and downloaded, with the server's RSS growth (targets: >= 500 MB/s each
    way; growth < 64 MiB for 1 GiB).

    .venv/bin/python deploy/bench/bench_threads.py
    .venv/bin/python deploy/bench/bench_threads.py --postgresql   # a throwaway durable PostgreSQL
    .venv/bin/python deploy/bench/bench_threads.py --database-url postgresql://... (an EMPTY database)
    .venv/bin/python deploy/bench/bench_threads.py --quick    # smaller runs, to check the script
    .venv/bin/python deploy/bench/bench_threads.py --recycled-page-cache   # uploads into reused memory
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "platform"))
sys.path.insert(0, str(ROOT))

import pyotp  # noqa: E402

PASSWORD = "benchmark passphrase for threads"
MIB = 1024 * 1024


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- set-up (in this process, directly through the services) ------------------------------------

def prepare(env: dict[str, str], clients: int, big: int) -> dict:
    from sqlalchemy import insert

    from cooperation import create_app
    from cooperation.audit.service import ensure_head
    from cooperation.config import Settings
    from cooperation.extensions import db
    from cooperation.membership import services as membership
    from cooperation.permissions import Role
    from cooperation.threads import services as s
    from cooperation.threads.models import Message
    from tests.factories import make_user
    from tests.functional.test_threads_api_kit import envelope, seed_keys

    app = create_app(Settings.from_env(env))
    with app.app_context():
        db.create_all()
        ensure_head(db.session)
        membership.ensure_organisations(db.session)
        membership.import_states(db.session)
        db.session.commit()
        users = [make_user("NLD", Role.STATE_MEMBER, f"bench{n}@nl.bench", password=PASSWORD) for n in range(clients)]
        devices = [seed_keys(u.id) for u in users]
        db.session.commit()
        threads = {}
        from cooperation.audit.service import Actor

        actor = Actor.system("bench")
        for name in ("post", "small", "big", "files"):
            owner = users[0]
            thread = s.create_thread(db.session, owner, [], actor)
            _, member = s.membership(db.session, owner, thread.id)
            body = os.urandom(64)
            dev = devices[0]
            s.append_event(db.session, owner, thread, member, s.EventIn(
                seq=0, prev_hash=bytes(32), kind="create", device_id=dev.device_id, body=body,
                signature=dev.sign_event(body), users=tuple(u.id for u in users), epoch=1,
                wraps=tuple(s.WrapIn(u.id, 1, os.urandom(80)) for u in users)), actor)
            db.session.commit()
            threads[name] = thread.id
        # Pre-filled threads for "latest 50": envelopes made once and reused (ids differ).
        sample = envelope(threads["small"], 1, users[0].id, devices[0], os.urandom(700))
        from cooperation.db import utcnow

        for name, count in (("small", 100), ("big", big)):
            for start in range(0, count, 5000):
                rows = [{"thread_id": threads[name], "msg_id": secrets.token_hex(16), "epoch": 1,
                         "sender_id": users[0].id, "device_id": devices[0].device_id, "envelope": sample,
                         "created_at": utcnow()} for _ in range(min(5000, count - start))]
                db.session.execute(insert(Message), rows)
                db.session.commit()
        info = {"users": [(u.email, u.totp_secret, u.id) for u in users], "devices": devices, "threads": threads}
        if db.engine.dialect.name == "postgresql":
            # Let the bulk load settle, as a live database is: otherwise autovacuum and the first
            # readers (setting hint bits) work through 100,000 fresh rows during the measurements.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM (ANALYZE)")
                conn.exec_driver_sql("CHECKPOINT")
        db.engine.dispose()
    return info


# -- HTTP client ------------------------------------------------------------------------------------

class Client:
    def __init__(self, port: int) -> None:
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}
        self.csrf = ""

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):  # type: ignore[no-untyped-def]
        h = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()), **(headers or {})}
        if self.csrf:
            h["X-CSRFToken"] = self.csrf
        self.conn.request(method, path, body=body, headers=h)
        r = self.conn.getresponse()
        for header, value in r.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return r

    def text(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, str]:
        r = self.request(method, path, body, headers)
        return r.status, r.read().decode("utf-8", "replace")

    def json(self, method: str, path: str, payload: object = None) -> tuple[int, dict]:
        body = json.dumps(payload).encode() if payload is not None else None
        r = self.request(method, path, body, {"Content-Type": "application/json"} if body else {})
        data = r.read()
        return r.status, (json.loads(data) if data else {})

    def login(self, email: str, secret: str) -> None:
        token = lambda html: re.search(r'name="(?:\w+-)?csrf_token"[^>]*value="([^"]+)"', html).group(1)  # noqa: E731
        _, page = self.text("GET", "/login")
        form = urlencode({"email": email, "password": PASSWORD, "csrf_token": token(page)}).encode()
        status, _ = self.text("POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 302, status
        _, page = self.text("GET", "/login/verify")
        form = urlencode({"method": "totp", "totp-code": pyotp.TOTP(secret).now(),
                          "totp-csrf_token": token(page)}).encode()
        status, _ = self.text("POST", "/login/verify", form, {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 302, f"TOTP step failed: {status}"
        _, page = self.text("GET", "/dashboard")
        self.csrf = token(page)


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))] if values else float("nan")


def rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    return [pid, *map(int, out)]


# -- the measurements ----------------------------------------------------------------------------------

def bench_posts(clients: list[Client], info: dict, n_clients: int, per_client: int) -> dict:
    from tests.functional.test_threads_api_kit import envelope

    tid = info["threads"]["post"]
    latencies: list[float] = []
    lock = threading.Lock()
    bodies = [[json.dumps({"envelope": b64(envelope(tid, 1, info["users"][i][2], info["devices"][i],
                                                       os.urandom(900)))}).encode()
               for _ in range(per_client)] for i in range(n_clients)]

    def run(i: int) -> None:
        c = clients[i]
        mine = []
        for body in bodies[i]:
            t0 = time.perf_counter()
            r = c.request("POST", f"/api/v1/threads/{tid}/messages", body, {"Content-Type": "application/json"})
            r.read()
            mine.append(time.perf_counter() - t0)
            assert r.status == 201, r.status
        with lock:
            latencies.extend(mine)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(n_clients) as pool:
        list(pool.map(run, range(n_clients)))
    elapsed = time.perf_counter() - t0
    return {"rate": len(latencies) / elapsed, "p50": pct(latencies, 0.5) * 1000, "p95": pct(latencies, 0.95) * 1000}


def bench_latest(client: Client, tids: list[str], rounds: int) -> list[dict]:
    """The threads' latest pages requested in turn (interleaved): a drift of the machine over the
    run then weighs on every thread alike instead of on whichever is measured last."""
    times: list[list[float]] = [[] for _ in tids]
    for _ in range(rounds):
        for mine, tid in zip(times, tids):
            t0 = time.perf_counter()
            r = client.request("GET", f"/api/v1/threads/{tid}/messages?limit=50")
            data = r.read()
            mine.append(time.perf_counter() - t0)
            assert r.status == 200 and data
    return [{"p50": pct(mine, 0.5) * 1000, "p95": pct(mine, 0.95) * 1000} for mine in times]


PARTS_AT_ONCE = 2  # as the Python client sends them (cooperation_client.client.files)


def bench_file(client: Client, tid: str, size: int, pids: list[int], at_once: int = PARTS_AT_ONCE) -> dict:
    part = 8 * MIB
    status, att = client.json("POST", f"/api/v1/threads/{tid}/attachments", {"size": size, "part_size": part})
    assert status == 201, att
    chunk = os.urandom(part)
    senders = [client]
    for _ in range(at_once - 1):  # more connections of the same signed-in session
        other = Client(client.port)
        other.cookies, other.csrf = dict(client.cookies), client.csrf
        senders.append(other)
    before = rss_kib(pids)
    peaks = [before]

    def send(k: int) -> None:
        for n in range(k, att["parts"], at_once):
            length = min(part, size - n * part)
            r = senders[k].request("PUT", f"/api/v1/threads/{tid}/attachments/{att['id']}/parts/{n}", chunk[:length],
                                   {"Content-Type": "application/octet-stream"})
            r.read()
            assert r.status == 200, r.status
            peaks.append(rss_kib(pids))

    t0 = time.perf_counter()
    with ThreadPoolExecutor(at_once) as pool:
        list(pool.map(send, range(at_once)))
    # Completion is part of the upload: it is when the server flushes the parts to disk.
    status, _ = client.json("POST", f"/api/v1/threads/{tid}/attachments/{att['id']}/complete")
    assert status == 200
    up = size / (time.perf_counter() - t0) / 1e6
    peak = max(peaks)
    t0 = time.perf_counter()
    r = client.request("GET", f"/api/v1/threads/{tid}/attachments/{att['id']}/content")
    got = 0
    digest = hashlib.sha256()
    while True:
        data = r.read(MIB)
        if not data:
            break
        got += len(data)
        digest.update(data)
        if got % (64 * MIB) < MIB:
            peak = max(peak, rss_kib(pids))
    down = size / (time.perf_counter() - t0) / 1e6
    assert got == size
    return {"up": up, "down": down, "rss_growth_mib": (peak - before) / 1024}


def recycle_page_cache(directory: Path, size: int) -> None:
    """Write and delete `size` bytes: the kernel then gives the next writes memory it has used
    before, as on any server that has been up for a while. On a fresh VM, never-touched memory
    costs the hypervisor a fault per page at first use (deploy/bench/bench_disk_floor.py)."""
    directory.mkdir(parents=True, exist_ok=True)
    scratch = directory / "page-cache-scratch"
    block = os.urandom(MIB)
    with open(scratch, "wb") as out:
        for _ in range(size // MIB):
            out.write(block)
    scratch.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default="")
    parser.add_argument("--postgresql", action="store_true",
                        help="start a throwaway PostgreSQL with fsync and synchronous_commit on (as in production)")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--attachment-mib", type=int, default=256,
                        help="attachment size (the memory target is stated for 1024)")
    parser.add_argument("--recycled-page-cache", action="store_true",
                        help="write and delete a scratch file before each upload, so that it lands in memory "
                             "the kernel has used before (a long-running server) rather than in never-touched "
                             "memory of a fresh VM")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-threads-"))
    pg = None
    if args.postgresql:
        from tests.ops.stack import DurablePostgres

        pg = DurablePostgres().start()
        args.database_url = pg.create_database("bench")
    try:
        run(args, tmp)
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, tmp: Path) -> None:
    quick = args.quick
    url = args.database_url or f"sqlite:///{tmp / 'bench.sqlite3'}"
    env = {**os.environ, "COOPERATION_ENV": "development", "SECRET_KEY": secrets.token_urlsafe(48),
           "DATABASE_URL": url, "COOPERATION_INSTANCE_PATH": str(tmp / "instance"), "COOPERATION_PLUGINS": "",
           "MAIL_BACKEND": "console", "LOG_LEVEL": "INFO", "PYTHONPATH": str(ROOT / "platform")}
    print(f"preparing ({'quick' if quick else 'full'}) on {url.split('@')[-1]} ...", flush=True)
    info = prepare(env, 32, 2_000 if quick else 100_000)
    port = free_port()
    # The production settings (deploy/gunicorn.conf.py: sync workers, JSON access log, hooks),
    # with the access log written to a file here instead of the terminal.
    server_log = open(tmp / "gunicorn.log", "wb")  # noqa: SIM115 (closed with the server)
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
                               "--workers", str(args.workers), "--bind", f"127.0.0.1:{port}", "--timeout", "120"],
                              env=env, cwd=ROOT, start_new_session=True, stdout=server_log, stderr=server_log)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        clients = []
        for email, secret, _uid in info["users"]:
            c = Client(port)
            c.login(email, secret)
            clients.append(c)
        pids = children(server.pid)
        rows = []
        per = 30 if quick else 150
        for n in (1, 8, 32):
            r = bench_posts(clients, info, n, per if n > 1 else per * 2)
            rows.append((f"post ~1 KiB, {n} client(s)", f"{r['rate']:.0f}/s", f"p50 {r['p50']:.1f} ms",
                         f"p95 {r['p95']:.1f} ms"))
        sizes = (("small", "100"), ("big", "2,000" if quick else "100,000"))
        measured = bench_latest(clients[1], [info["threads"][name] for name, _ in sizes], 100 if quick else 400)
        for (_name, label), r in zip(sizes, measured):
            rows.append((f"latest 50 of {label}", "", f"p50 {r['p50']:.2f} ms", f"p95 {r['p95']:.2f} ms"))
        size = (32 if quick else args.attachment_mib) * MIB
        for label, at_once in (("1 part at a time", 1), (f"{PARTS_AT_ONCE} parts at a time", PARTS_AT_ONCE)):
            if args.recycled_page_cache:
                recycle_page_cache(tmp / "instance", 2 * size)
            r = bench_file(clients[2], info["threads"]["files"], size, pids, at_once)
            rows.append((f"attachment {size // MIB} MiB, {label}", f"up {r['up']:.0f} MB/s",
                         f"down {r['down']:.0f} MB/s", f"RSS +{r['rss_growth_mib']:.1f} MiB"))
        width = max(len(r[0]) for r in rows)
        print(f"\n{'measurement'.ljust(width)} | {'rate':>14} | {'':>18} | {'':>18}")
        for row in rows:
            print(f"{row[0].ljust(width)} | {row[1]:>14} | {row[2]:>18} | {row[3]:>18}")
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        server_log.close()


if __name__ == "__main__":
    main()
