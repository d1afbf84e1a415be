"""Attachment parts read from gunicorn's socket (cooperation.threads.rawbody), tested against
gunicorn's own request parser on a socket pair: the bytes gunicorn received with the headers come
first, then the socket's; gunicorn is left with nothing to wait for; anything unusual (a body
already touched, chunked encoding, a pipelined request) goes the usual way."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator

import pytest
from gunicorn.config import Config
from gunicorn.http.parser import RequestParser
from gunicorn.http.wsgi import create

from cooperation.threads.rawbody import socket_body


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    client, server = socket.socketpair()
    client.settimeout(5)
    server.settimeout(5)
    yield client, server
    client.close()
    server.close()


def _environ(server: socket.socket):  # type: ignore[no-untyped-def]
    """What gunicorn's sync worker hands the application for the next request on `server`."""
    cfg = Config()
    request = next(iter(RequestParser(cfg, server, ("127.0.0.1", 40000))))
    _response, environ = create(request, server, ("127.0.0.1", 40000), ("127.0.0.1", 8001), cfg)
    return request, environ


def _drain(body) -> bytes:  # type: ignore[no-untyped-def]
    out = bytearray()
    view = memoryview(bytearray(64 * 1024))
    while n := body.readinto(view):
        out += view[:n]
    return bytes(out)


def _head(size: int) -> bytes:
    return (f"PUT /api/v1/threads/t/attachments/a/parts/0 HTTP/1.1\r\nHost: x\r\n"
            f"Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n").encode()


def test_a_body_sent_with_its_headers_is_read_whole_and_gunicorn_waits_for_nothing(pair) -> None:  # type: ignore[no-untyped-def]
    client, server = pair
    data = os.urandom(3000)
    client.sendall(_head(len(data)) + data)  # arrives with the headers: all of it buffered by gunicorn
    request, environ = _environ(server)
    body = socket_body(environ, len(data))
    assert body is not None and _drain(body) == data
    assert request.body.read(10) == b""  # gunicorn's reader is done: it would block otherwise


def test_a_large_body_arriving_in_pieces_comes_in_order(pair) -> None:  # type: ignore[no-untyped-def]
    client, server = pair
    data = os.urandom(3 * 1024 * 1024 + 17)
    client.sendall(_head(len(data)) + data[:100])

    def rest() -> None:
        for start in range(100, len(data), 256 * 1024):
            client.sendall(data[start:start + 256 * 1024])

    request, environ = _environ(server)
    sender = threading.Thread(target=rest)
    sender.start()
    body = socket_body(environ, len(data))
    assert body is not None and _drain(body) == data
    sender.join()


def test_a_client_that_stops_early_gives_a_short_body(pair) -> None:  # type: ignore[no-untyped-def]
    client, server = pair
    client.sendall(_head(1000) + b"x" * 400)
    client.shutdown(socket.SHUT_WR)
    _request, environ = _environ(server)
    body = socket_body(environ, 1000)
    assert body is not None and len(_drain(body)) == 400  # the storage then refuses the short part


def test_unusual_bodies_take_the_usual_way(pair) -> None:  # type: ignore[no-untyped-def]
    client, server = pair
    data = os.urandom(500)
    # A pipelined second request behind the body: gunicorn keeps everything.
    client.sendall(_head(len(data)) + data + _head(3) + b"abc")
    request, environ = _environ(server)
    assert socket_body(environ, len(data)) is None
    assert request.body.read(len(data)) == data
    # A body someone has started reading, or a size that is not the Content-Length.
    assert socket_body(environ, len(data)) is None
    assert socket_body({"wsgi.input": environ["wsgi.input"]}, 3) is None  # no socket: not gunicorn


def test_chunked_bodies_take_the_usual_way(pair) -> None:  # type: ignore[no-untyped-def]
    client, server = pair
    client.sendall(b"PUT /p HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    request, environ = _environ(server)
    assert socket_body(environ, 3) is None
    assert request.body.read() == b"abc"
