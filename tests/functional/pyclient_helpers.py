"""Helpers for running the Python client (cooperation_client.client) against the real Flask
application in-process: an httpx transport straight into the WSGI app, and sign-in through the
real OAuth device flow with the user approving in a browser-like test client."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import httpx
from flask import Flask, has_app_context
from sqlalchemy import update

from cooperation.extensions import db
from cooperation.oauth.models import DeviceAuthorization
from cooperation_client.client import Client
from cooperation_client.client.oauth import DeviceCode
from tests.functional.oauth_helpers import Browser

SERVER = "http://localhost"


def wsgi_transport(app: Flask) -> httpx.WSGITransport:
    """Requests go to the app as from a real client: each in a fresh application context, the
    test's own session committed before (the view sees the test's data) and after (the test then
    reads what the view wrote), as tests.conftest.CommittingClient does."""

    def committing(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        # The client sends attachment parts from threads of its own, which have no test session
        # to commit (the test's thread is waiting for the upload meanwhile).
        in_test_thread = has_app_context()
        if in_test_thread:
            db.session.commit()
        try:
            with app.app_context():
                return list(app.wsgi_app(environ, start_response))
        finally:
            if in_test_thread:
                db.session.commit()

    return httpx.WSGITransport(app=committing)


def waited_interval() -> None:
    """Pretend the client waited its polling interval (tests do not sleep)."""
    db.session.execute(update(DeviceAuthorization).values(last_polled_at=None))
    db.session.commit()


class Approver:
    """The `sleep` of the device flow: on its first call the user approves the code in the
    browser; every call lets the next poll through without real waiting."""

    def __init__(self, app: Flask, user: Any, code: Callable[[], str], approve: bool = True) -> None:
        self.app, self.user, self.code, self.approve = app, user, code, approve
        self.slept: list[float] = []

    def __call__(self, seconds: float) -> None:
        if not self.slept:
            response = Browser(self.app, self.user).decide(self.code(), approve=self.approve)
            assert response.status_code == 200, response.get_data(as_text=True)
        self.slept.append(seconds)
        waited_interval()


def sign_in(app: Flask, user: Any, home: Path, transport: httpx.BaseTransport | None = None) -> Client:
    """A client with its own keystore, signed in as `user` through the device flow."""
    client = Client.open(home=str(home), server=SERVER, transport=transport or wsgi_transport(app))
    shown: list[DeviceCode] = []
    client.login(shown.append, sleep=Approver(app, user, lambda: shown[0].user_code))
    return client
