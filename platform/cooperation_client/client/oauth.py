"""Signing in with the OAuth 2.0 device authorization grant (RFC 8628) as the platform serves
it: the client shows a URL and a short code, the user approves in a browser after a full
sign-in, the client polls politely (interval, +5 s on slow_down) and receives scoped tokens.

Tokens live in the keystore only. An expired access token is refreshed when the API answers
401; refresh tokens rotate on every use, so the new pair is saved before anything else happens.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .api import ApiClient
from .errors import ClientError
from .store import TOKENS_FILE, Store

CLIENT_ID = "cooperation-cli"
SCOPE = "profile threads"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
SLOW_DOWN_STEP = 5      # RFC 8628 3.5


@dataclass(frozen=True)
class DeviceCode:
    verification_uri: str
    verification_uri_complete: str | None
    user_code: str
    interval: int
    expires_in: int


class StoredTokens:
    """The TokenSource of ApiClient, backed by the keystore."""

    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store, self.clock = store, clock

    def access_token(self) -> str | None:
        data = self.store.read(TOKENS_FILE)
        if not data:
            return None
        return str(data.get("access_token") or "") or None

    def save(self, token: dict[str, Any]) -> None:
        if not isinstance(token.get("access_token"), str):
            raise ClientError("The server's token response is malformed.")
        self.store.write(TOKENS_FILE, {
            "access_token": token["access_token"], "refresh_token": token.get("refresh_token"),
            "scope": token.get("scope", ""), "expires_at": self.clock() + float(token.get("expires_in", 3600))})

    def refresh(self, api: ApiClient) -> bool:
        data = self.store.read(TOKENS_FILE) or {}
        refresh_token = data.get("refresh_token")
        if not refresh_token:
            return False
        status, body, _ = api.form("/oauth/token", {"grant_type": "refresh_token", "refresh_token": refresh_token,
                                                    "client_id": CLIENT_ID})
        if status != 200:
            # Used, expired or revoked: the pair is worthless now; keep nothing that looks valid.
            self.store.remove(TOKENS_FILE)
            return False
        self.save(body)
        return True


def start(api: ApiClient, scope: str = SCOPE) -> tuple[str, DeviceCode]:
    """Ask for a device code; returns (device_code, what to show the user)."""
    status, body, headers = api.form("/oauth/device_authorization", {"client_id": CLIENT_ID, "scope": scope})
    if status == 429:
        raise ClientError(f"Too many sign-in attempts from here; try again in {headers.get('Retry-After', 'a few')} "
                          "seconds.")
    if status != 200 or not isinstance(body.get("device_code"), str):
        reason = body.get("error_description") or body.get("error") or status
        raise ClientError(f"The server refused to start the sign-in: {reason}.")
    return body["device_code"], DeviceCode(
        verification_uri=str(body["verification_uri"]),
        verification_uri_complete=body.get("verification_uri_complete"), user_code=str(body["user_code"]),
        interval=max(1, int(body.get("interval", 5))), expires_in=int(body.get("expires_in", 600)))


def poll(api: ApiClient, device_code: str, code: DeviceCode, *, sleep: Callable[[float], None] = time.sleep,
         clock: Callable[[], float] = time.monotonic) -> dict[str, Any]:
    """Wait for the user's decision: sleep the interval before every poll, slow down when told."""
    interval, deadline = code.interval, clock() + code.expires_in
    while clock() < deadline:
        sleep(interval)
        status, body, _ = api.form("/oauth/token", {"grant_type": DEVICE_GRANT, "device_code": device_code,
                                                    "client_id": CLIENT_ID})
        if status == 200:
            return body
        error = body.get("error")
        if error == "authorization_pending":
            continue
        if error == "slow_down":
            interval += SLOW_DOWN_STEP
            continue
        if error == "access_denied":
            raise ClientError("Access was denied in the browser.")
        if error == "expired_token":
            break
        raise ClientError(f"Sign-in failed: {body.get('error_description') or error or status}.")
    raise ClientError("The code expired before it was approved: run login again.")


def revoke(api: ApiClient, store: Store) -> bool:
    """RFC 7009: ending the grant on the server (either token ends the whole grant)."""
    data = store.read(TOKENS_FILE) or {}
    token = data.get("refresh_token") or data.get("access_token")
    revoked = False
    if token:
        status, _, _ = api.form("/oauth/revoke", {"token": token, "client_id": CLIENT_ID,
                                                  "token_type_hint": "refresh_token" if data.get("refresh_token")
                                                  else "access_token"})
        revoked = status == 200
    store.remove(TOKENS_FILE)
    return revoked
