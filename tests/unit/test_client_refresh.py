"""The Python client sends attachment parts from two threads: when both meet an expired access
token at once, the single-use refresh token is spent once, and both requests go through."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from cooperation_client.client.api import ApiClient


class Tokens:
    def __init__(self) -> None:
        self.token, self.refreshes = "old", 0

    def access_token(self) -> str:
        return self.token

    def refresh(self, api: ApiClient) -> bool:
        self.refreshes += 1
        self.token = f"new{self.refreshes}"
        return True


def test_two_threads_meeting_an_expired_token_refresh_it_once() -> None:
    both_refused = threading.Barrier(2, timeout=5)

    def server(request: httpx.Request) -> httpx.Response:
        if request.headers["Authorization"] == "Bearer old":
            both_refused.wait()  # both requests are refused before either refreshes
            return httpx.Response(401, json={"error": "unauthorized"})
        return httpx.Response(200, json={"token": request.headers["Authorization"]})

    tokens = Tokens()
    api = ApiClient("http://127.0.0.1:9", tokens=tokens, transport=httpx.MockTransport(server))
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda _: api.get("/api/v1/me"), range(2)))
    assert tokens.refreshes == 1
    assert answers == [{"token": "Bearer new1"}, {"token": "Bearer new1"}]
