"""Helpers for the OAuth tests: a device (the Python client, no cookies) and a browser in
which the user signs in fully and approves or denies the device."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from cooperation.audit.service import Actor
from cooperation.db import utcnow
from cooperation.extensions import db
from cooperation.oauth import services
from cooperation.oauth.models import DeviceAuthorization
from tests.conftest import AuthActions, CommittingClient, csrf_from

CLIENT_ID = services.CLI_CLIENT_ID
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
USER_CODE_RE = re.compile(r"^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$")


def register_client(app: Flask) -> None:
    services.ensure_cli_client(db.session, Actor.system("test"))
    db.session.commit()


def new_client(app: Flask) -> FlaskClient:
    app.test_client_class = CommittingClient
    return app.test_client()


class Device:
    """The Python client: form posts to the OAuth endpoints, bearer calls to the API."""

    def __init__(self, app: Flask) -> None:
        self.http = new_client(app)

    def start(self, scope: str = "profile", client_id: str = CLIENT_ID):  # type: ignore[no-untyped-def]
        return self.http.post("/oauth/device_authorization", data={"client_id": client_id, "scope": scope})

    def poll(self, device_code: str, client_id: str = CLIENT_ID):  # type: ignore[no-untyped-def]
        return self.http.post("/oauth/token", data={"grant_type": DEVICE_GRANT, "device_code": device_code,
                                                    "client_id": client_id})

    def refresh(self, refresh_token: str, **extra: str):  # type: ignore[no-untyped-def]
        return self.http.post("/oauth/token", data={"grant_type": "refresh_token", "refresh_token": refresh_token,
                                                    "client_id": CLIENT_ID, **extra})

    def api(self, path: str, token: str, method: str = "GET", **kwargs: Any):  # type: ignore[no-untyped-def]
        return self.http.open(path, method=method, headers={"Authorization": f"Bearer {token}"}, **kwargs)


class Browser:
    """The user's browser, signed in with password and authenticator code."""

    def __init__(self, app: Flask, user: Any) -> None:
        from cooperation.accounts.models import User

        self.http = new_client(app)
        self.user = user
        # These tests sign the same user in more than once; they are not about code replay.
        db.session.execute(update(User).where(User.id == user.id).values(totp_last_step=None))
        db.session.commit()
        AuthActions(self.http).login(user)

    def enter_code(self, user_code: str):  # type: ignore[no-untyped-def]
        page = self.http.get(f"/device?user_code={user_code}").get_data(as_text=True)
        return self.http.post("/device", data={"csrf_token": csrf_from(page), "user_code": user_code})

    def decide(self, user_code: str, approve: bool):  # type: ignore[no-untyped-def]
        response = self.enter_code(user_code)
        assert response.status_code == 302, response.get_data(as_text=True)
        page = self.http.get("/device/decision").get_data(as_text=True)
        button = {"approve": "Allow access"} if approve else {"deny": "Deny"}
        return self.http.post("/device/decision", data={"csrf_token": csrf_from(page), **button})


def allow_next_poll(device_code: str) -> None:
    """Pretend the client waited its interval (the tests do not sleep)."""
    db.session.execute(update(DeviceAuthorization).where(
        DeviceAuthorization.device_code_hash == services.hash_secret(device_code))
        .values(last_polled_at=utcnow() - timedelta(minutes=1)))
    db.session.commit()


def device_row(device_code: str) -> DeviceAuthorization:
    row = db.session.scalar(select(DeviceAuthorization).where(
        DeviceAuthorization.device_code_hash == services.hash_secret(device_code)))
    assert row is not None
    return row


def obtain_tokens(app: Flask, user: Any, scope: str = "profile") -> dict[str, Any]:
    """The whole flow, for tests about what comes after."""
    device = Device(app)
    started = device.start(scope).get_json()
    response = Browser(app, user).decide(started["user_code"], approve=True)
    assert response.status_code == 200, response.get_data(as_text=True)
    tokens = device.poll(started["device_code"])
    assert tokens.status_code == 200, tokens.get_data(as_text=True)
    return tokens.get_json()
