"""Load: 200 users of 50 States browse (dashboard, directory, account pages, their State's user
list) and download exports, through nginx (TLS) and two gunicorn instances on PostgreSQL.

Correctness inside the load (LOAD-01): a user must never see another State's data. Every
account is load-<state>-<n>@<state>.load.test, so any "@<other>.load.test" address in a page of
the user's own State (its users page, its directory page, the account page) is a tenant leak
and a failure; another State's user page must be a 404.

Run through deploy/bench/run_load.sh (it starts the stack and writes accounts.json).
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time

import pyotp
from locust import HttpUser, between, events, task

ACCOUNTS = json.loads(open(os.environ["COOP_ACCOUNTS"]).read())
CERT = os.environ["COOP_CERT"]
PASSWORD = "correct horse battery staple"
CSRF = re.compile(r'name="(?:totp-)?csrf_token" (?:type="hidden" )?value="([^"]+)"')
DOMAIN = re.compile(r"@([a-z]{3})\.load\.test")
_next = iter(range(len(ACCOUNTS)))
_lock = threading.Lock()
LEAKS = {"count": 0}


class StateUser(HttpUser):
    wait_time = between(1, 3)

    def on_start(self) -> None:
        with _lock:
            self.account = ACCOUNTS[next(_next) % len(ACCOUNTS)]
        self.client.verify = CERT
        self.own = self.account["state"].lower()
        self.others = [a for a in ACCOUNTS if a["state"] != self.account["state"]]
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


@events.quitting.add_listener
def _report(environment, **_kwargs) -> None:  # type: ignore[no-untyped-def]
    print(f"TENANT-LEAKS {LEAKS['count']}")
    if LEAKS["count"]:
        environment.process_exit_code = 1
