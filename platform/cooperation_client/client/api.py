"""A small HTTP client for /api/v1 and the OAuth endpoints, over httpx.

TLS certificates are verified (the system store, or a CA bundle the operator names), every call
has a timeout, bearer tokens come from a TokenSource and are refreshed once on a 401, and a
refusal becomes an ApiError carrying the server's own message. Nothing here logs a token.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import ssl
import threading
from http.cookiejar import CookieJar, DefaultCookiePolicy
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import httpx

from .errors import ApiError, ClientError

T = TypeVar("T")
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=15.0)
USER_AGENT = "cooperation-client/1"


class TokenSource(Protocol):
    def access_token(self) -> str | None: ...

    def refresh(self, api: ApiClient) -> bool: ...


def b64url(data: bytes) -> str:
    """How the API carries bytes: base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: Any, what: str = "value") -> bytes:
    """Accepts base64url with or without padding (and standard base64, as the server does)."""
    if not isinstance(text, str):
        raise ClientError(f"The server sent an invalid {what}.")
    cleaned = text.replace("+", "-").replace("/", "_").rstrip("=")
    try:
        return base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError):
        raise ClientError(f"The server sent an invalid {what}.") from None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalise_server(url: str) -> str:
    """'https://host[:port][/prefix]' without a trailing slash. Plain http only for loopback
    (development): over a network, tokens and ciphertext travel under TLS or not at all."""
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ClientError(f"Not a server address: {url!r} (expected https://host).")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ClientError("Refusing plain http to a remote server: use https://.")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ClientError("The server address must not contain credentials, a query or a fragment.")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _message(response: httpx.Response) -> tuple[str, dict[str, Any]]:
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        text = data.get("error_description") or data.get("error")
        if isinstance(text, str) and text:
            return text, data
    return response.reason_phrase or "unexpected response", data if isinstance(data, dict) else {}


class ApiClient:
    def __init__(self, server: str, *, tokens: TokenSource | None = None,
                 transport: httpx.BaseTransport | None = None, ca_bundle: str | None = None,
                 timeout: httpx.Timeout = DEFAULT_TIMEOUT) -> None:
        self.server = normalise_server(server)
        self.tokens = tokens
        verify: ssl.SSLContext | bool = True
        if ca_bundle:
            try:
                verify = ssl.create_default_context(cafile=ca_bundle)
            except (OSError, ssl.SSLError) as exc:
                raise ClientError(f"Cannot use the CA bundle {ca_bundle}: {exc}") from None
        # follow_redirects stays off: a redirect must never carry the bearer token elsewhere.
        # No cookie jar: the client authenticates with its bearer token only. A cookie the server
        # sets would make later calls look like a browser session (CSRF-checked, token ignored).
        self.http = httpx.Client(base_url=self.server, transport=transport, verify=verify, timeout=timeout,
                                 headers={"User-Agent": USER_AGENT}, follow_redirects=False,
                                 cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])))
        # Several threads may send at once (attachment parts): one refresh at a time, and none
        # for a request whose token another thread has already replaced (a refresh token is
        # single-use; spending it twice would end the sign-in).
        self._refresh_lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    # -- plumbing ------------------------------------------------------------------------

    def _headers(self, auth: bool, extra: dict[str, str] | None) -> dict[str, str]:
        headers = dict(extra or {})
        if auth:
            token = self.tokens.access_token() if self.tokens else None
            if not token:
                raise ClientError("Not signed in: run cooperation-client login SERVER first.")
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def _send(self, build: Callable[[dict[str, str]], httpx.Request], *, auth: bool,
              headers: dict[str, str] | None = None, stream: bool = False) -> httpx.Response:
        """Send, refreshing the access token once if the server says it expired."""
        for attempt in (0, 1):
            request = build(self._headers(auth, headers))
            try:
                response = self.http.send(request, stream=stream)
            except httpx.TimeoutException:
                raise ClientError(f"The server {self.server} did not answer in time.") from None
            except httpx.TransportError as exc:
                raise ClientError(f"Cannot reach {self.server}: {exc}") from None
            if response.status_code == 401 and auth and attempt == 0 and self.tokens is not None:
                response.close()
                with self._refresh_lock:
                    if f"Bearer {self.tokens.access_token()}" != request.headers.get("Authorization"):
                        continue  # refreshed by another thread meanwhile: try with the new token
                    if self.tokens.refresh(self):
                        continue
                raise ClientError("Your sign-in has expired or was revoked: run cooperation-client login again.")
            if response.status_code >= 400:
                if stream:
                    response.read()
                message, body = _message(response)
                response.close()
                if response.status_code == 401:
                    raise ClientError("Your sign-in has expired or was revoked: run cooperation-client login again.")
                raise ApiError(response.status_code, message, body)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            raise ClientError("The server sent a response that is not JSON.") from None

    # -- JSON API ------------------------------------------------------------------------

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._json(self._send(lambda h: self.http.build_request("GET", path, params=params, headers=h),
                                     auth=True))

    def send(self, method: str, path: str, payload: Any = None) -> Any:
        return self._json(self._send(
            lambda h: self.http.build_request(method, path, json=payload if payload is not None else {}, headers=h),
            auth=True))

    def post(self, path: str, payload: Any = None) -> Any:
        return self.send("POST", path, payload)

    def put(self, path: str, payload: Any) -> Any:
        return self.send("PUT", path, payload)

    def put_stream(self, path: str, chunks: Callable[[], Iterator[bytes]], length: int) -> Any:
        """A raw body streamed from an iterator (a factory, so that a retry can start over)."""
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(length)}
        return self._json(self._send(lambda h: self.http.build_request("PUT", path, content=chunks(), headers=h),
                                     auth=True, headers=headers))

    def download(self, path: str, consume: Callable[[Iterator[bytes]], T]) -> T:
        """Stream a body into `consume` without holding it in memory."""
        response = self._send(lambda h: self.http.build_request("GET", path, headers=h), auth=True, stream=True)
        try:
            return consume(response.iter_bytes(1 << 16))
        finally:
            response.close()

    # -- OAuth endpoints: form posts without a bearer token; errors are data there ----------

    def form(self, path: str, data: dict[str, str]) -> tuple[int, dict[str, Any], httpx.Headers]:
        try:
            response = self.http.post(path, data=data)
        except httpx.TimeoutException:
            raise ClientError(f"The server {self.server} did not answer in time.") from None
        except httpx.TransportError as exc:
            raise ClientError(f"Cannot reach {self.server}: {exc}") from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        return response.status_code, body if isinstance(body, dict) else {}, response.headers

