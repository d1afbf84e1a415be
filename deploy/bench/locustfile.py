"""Load: 200 users of 50 States through nginx (TLS) and two gunicorn instances on PostgreSQL.

Each simulated user signs in through the real forms (password + TOTP), then, weighted as people
use the platform (reads well above posts, downloads occasional):
  - the encrypted threads API (/api/v1, session cookie + X-CSRFToken): read the latest 50
    messages of one of its threads, list its threads with unread counts, mark a thread read,
    post a ~1 KiB TEK1 envelope (AES-256-GCM, signed with the user's own device key, at the
    thread's epoch 1), download the thread's 384 KiB attachment in full (length and SHA-256
    checked);
  - browsing: dashboard, directory, account page, the State's user list (focal points), and
    the directory's CSV export.
Every response is checked (status, and the content where it can be); any other answer is a
failure.

Correctness inside the load (LOAD-01): a user must never see another State's data. Every
account is load-<state>-<n>@<state>.load.test, so any "@<other>.load.test" address in a page of
the user's own State (its users page, its directory page, the account page) is a tenant leak
and a failure; another State's user page must be a 404. In the threads API, the thread list
must be exactly the user's own threads, every envelope read must carry the thread's id in its
header, and a thread of two other States (its messages, its attachment) must be a 404.

Run through deploy/bench/run_load.sh (it starts the stack and writes accounts.json).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
import re
import sys
import threading
from pathlib import Path

import pyotp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from locust import HttpUser, between, events, task

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tests.functional.test_threads_api_kit import Dev, envelope  # noqa: E402

ACCOUNTS = json.loads(open(os.environ["COOP_ACCOUNTS"]).read())
CERT = os.environ["COOP_CERT"]
PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="(?:totp-)?csrf_token" (?:type="hidden" )?value="([^"]+)"')
DOMAIN = re.compile(r"@([a-z]{3})\.load\.test")
_next = iter(range(len(ACCOUNTS)))
_lock = threading.Lock()
LEAKS = {"count": 0}
ALL_THREADS = {t["id"]: t for a in ACCOUNTS for t in a["threads"]}
EPOCH = 1  # the threads' create event opened epoch 1; nothing in the load rotates it


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class StateUser(HttpUser):
    wait_time = between(1, 3)

    def on_start(self) -> None:
        with _lock:
            self.account = ACCOUNTS[next(_next) % len(ACCOUNTS)]
        self.client.verify = CERT
        self.own = self.account["state"].lower()
        self.others = [a for a in ACCOUNTS if a["state"] != self.account["state"]]
        self.threads = {t["id"]: t for t in self.account["threads"]}
        # Threads between two other States: the user must never reach them.
        self.foreign = [t for tid, t in ALL_THREADS.items() if tid not in self.threads]
        self.device = Dev(device_id=self.account["device_id"],
                          sig=Ed25519PrivateKey.from_private_bytes(bytes.fromhex(self.account["device_seed"])))
        self.latest: dict[str, int] = {}  # thread id -> newest message id seen
        self.csrf = ""
        self._login()

    def _post(self, path: str, data: dict[str, str], name: str):  # type: ignore[no-untyped-def]
        page = self.client.get(path, name=f"{name} (form)")
        token = CSRF.search(page.text)
        data = {**data, ("totp-csrf_token" if "totp-code" in data else "csrf_token"): token.group(1) if token else ""}
        return self.client.post(path, data=data, name=name, allow_redirects=False,
                                headers={"Referer": self.host + path})

    def _login(self) -> None:
        response = self._post("/login", {"email": self.account["email"], "password": PASSWORD}, "/login")
        if response.status_code != 302:
            return
        # A TOTP code is single-use per 30 s step: each simulated user has its own account.
        code = pyotp.TOTP(self.account["totp_secret"]).now()
        self._post("/login/verify", {"method": "totp", "totp-code": code}, "/login/verify")
        # The session's CSRF token, for the API's X-CSRFToken header (as the browser's script).
        token = CSRF.search(self.client.get("/dashboard").text)
        self.csrf = token.group(1) if token else ""

    def _api(self, method: str, path: str, name: str, payload: object = None):  # type: ignore[no-untyped-def]
        """A JSON call as the browser makes it: cookie, X-CSRFToken and (HTTPS) a same-origin Referer."""
        headers = {"X-CSRFToken": self.csrf, "Referer": self.host + "/threads/"}
        return self.client.request(method, path, name=name, json=payload, headers=headers, catch_response=True)

    def _thread(self) -> dict:
        return random.choice(list(self.threads.values()))

    def _check_own(self, response, name: str) -> None:  # type: ignore[no-untyped-def]
        foreign = {d for d in DOMAIN.findall(response.text) if d != self.own}
        if foreign:
            LEAKS["count"] += 1
            response.failure(f"tenant leak on {name}: saw {sorted(foreign)[:3]}")

    @task(4)
    def dashboard(self) -> None:
        with self.client.get("/dashboard", catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"status {r.status_code}")
            else:
                self._check_own(r, "/dashboard")

    @task(3)
    def directory(self) -> None:
        self.client.get("/directory/", name="/directory/")
        with self.client.get(f"/directory/states/{self.account['state']}", name="/directory/states/[own]",
                             catch_response=True) as r:
            if r.status_code == 200:
                self._check_own(r, "/directory/states/[own]")

    @task(2)
    def account_page(self) -> None:
        with self.client.get("/account", catch_response=True) as r:
            if r.status_code == 200 and self.account["email"] not in r.text:
                r.failure("the account page does not show the user's own account")
            elif r.status_code == 200:
                self._check_own(r, "/account")

    @task(2)
    def state_users(self) -> None:
        if not self.account["focal"]:
            return
        with self.client.get("/my-state/users", catch_response=True) as r:
            if r.status_code == 200:
                self._check_own(r, "/my-state/users")
        other = random.choice(self.others)
        with self.client.get(f"/my-state/users/{other['user_id']}", name="/my-state/users/[other State]",
                             catch_response=True) as r:
            if r.status_code == 404:
                r.success()
            else:
                LEAKS["count"] += 1
                r.failure(f"another State's user page answered {r.status_code}, not 404")

    @task(1)
    def export(self) -> None:
        with self.client.get("/directory/export.csv", catch_response=True) as r:
            if r.status_code != 200 or not r.text.startswith(("\ufeff", "Topic", "State", '"')) and "," not in r.text:
                r.failure(f"export failed: {r.status_code}")

    # -- the encrypted threads API ---------------------------------------------------------

    @task(8)
    def read_latest(self) -> None:
        thread = self._thread()
        with self._api("GET", f"/api/v1/threads/{thread['id']}/messages?limit=50",
                       "/api/v1/threads/[id]/messages (latest 50)") as r:
            if r.status_code != 200:
                r.failure(f"status {r.status_code}")
                return
            messages = r.json()["messages"]
            if len(messages) != 50:
                r.failure(f"{len(messages)} messages, not a page of 50")
                return
            # The thread id is in every envelope's header (bytes 6-22): all must be this thread's.
            wrong = [m["id"] for m in messages if b64d(m["envelope"])[6:22].hex() != thread["id"]]
            if wrong:
                LEAKS["count"] += 1
                r.failure(f"envelopes of another thread in the reply: {wrong[:3]}")
                return
            self.latest[thread["id"]] = max(self.latest.get(thread["id"], 0), messages[0]["id"])

    @task(5)
    def list_threads(self) -> None:
        with self._api("GET", "/api/v1/threads", "/api/v1/threads") as r:
            if r.status_code != 200:
                r.failure(f"status {r.status_code}")
                return
            threads = r.json()["threads"]
            if {t["id"] for t in threads} != set(self.threads):
                LEAKS["count"] += 1
                r.failure("the thread list is not exactly the user's own threads")
                return
            if not all(isinstance(t.get("unread"), int) and t["epoch"] == EPOCH for t in threads):
                r.failure("a thread without its unread count or at an unexpected epoch")
                return
            for t in threads:
                if t["latest_message_id"]:
                    self.latest[t["id"]] = max(self.latest.get(t["id"], 0), t["latest_message_id"])

    @task(3)
    def mark_read(self) -> None:
        thread = self._thread()
        up_to = self.latest.get(thread["id"])
        if up_to is None:
            return  # nothing read in this thread yet: a client marks only what it has shown
        with self._api("POST", f"/api/v1/threads/{thread['id']}/read", "/api/v1/threads/[id]/read",
                       {"up_to": up_to}) as r:
            if r.status_code != 200:
                r.failure(f"status {r.status_code}")
            elif r.json()["read_up_to"] < up_to:
                r.failure("the read marker did not move")

    @task(2)
    def post_message(self) -> None:
        thread = self._thread()
        text = os.urandom(random.randint(850, 1000))  # padded to 1 KiB, encrypted, signed: ~1.2 KiB
        raw = envelope(thread["id"], EPOCH, self.account["user_id"], self.device, text)
        msg_id = raw[58:74].hex()
        with self._api("POST", f"/api/v1/threads/{thread['id']}/messages", "/api/v1/threads/[id]/messages (post)",
                       {"envelope": b64e(raw), "msg_id": msg_id}) as r:
            if r.status_code != 201:
                r.failure(f"status {r.status_code}")
            elif r.json()["msg_id"] != msg_id or r.json()["sender_id"] != self.account["user_id"]:
                r.failure("the stored message is not the one posted")

    @task(1)
    def download(self) -> None:
        thread = self._thread()
        # The whole body is read (and timed): the server streams it from storage in chunks.
        with self.client.get(f"/api/v1/threads/{thread['id']}/attachments/{thread['attachment']}/content",
                             name="/api/v1/threads/[id]/attachments/[id]/content", catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"status {r.status_code}")
            elif len(r.content) != thread["attachment_size"] \
                    or hashlib.sha256(r.content).hexdigest() != thread["attachment_sha256"]:
                r.failure(f"the attachment came back altered ({len(r.content)} bytes)")

    @task(1)
    def foreign_thread(self) -> None:
        """Another pair of States' thread: its messages and its attachment must be a 404."""
        other = random.choice(self.foreign)
        for path, name in ((f"/api/v1/threads/{other['id']}/messages?limit=50",
                            "/api/v1/threads/[other States]/messages"),
                           (f"/api/v1/threads/{other['id']}/attachments/{other['attachment']}/content",
                            "/api/v1/threads/[other States]/attachments/[id]/content")):
            with self._api("GET", path, name) as r:
                if r.status_code == 404:
                    r.success()
                else:
                    LEAKS["count"] += 1
                    r.failure(f"another States' thread answered {r.status_code}, not 404")


@events.quitting.add_listener
def _report(environment, **_kwargs) -> None:  # type: ignore[no-untyped-def]
    print(f"TENANT-LEAKS {LEAKS['count']}")
    if LEAKS["count"]:
        environment.process_exit_code = 1
