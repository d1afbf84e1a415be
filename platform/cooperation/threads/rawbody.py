"""A request body read straight from the client socket, for attachment parts under gunicorn.

gunicorn's body reader hands out bytes through several in-memory buffers, copying each byte six
or seven times; for a part of several MiB that, not the network or the disk, bounds the upload.
When the request comes from gunicorn's sync worker with a Content-Length body that nothing has
read yet, the part is instead read from the socket with recv_into into one reusable buffer,
after the few bytes gunicorn had already received with the headers.

The body is then consumed behind gunicorn's back, so its reader is told that nothing is left
(else it would wait for those bytes again before answering). Anything else (another server,
another gunicorn worker type or version, a body already touched, chunked encoding) gets None and
the caller reads wsgi.input as usual. tests/functional/test_threads_rawbody.py runs both paths.
"""

from __future__ import annotations

import socket
from typing import Any

try:  # the server in production; absent under other WSGI servers, which take the usual path
    from gunicorn.http.body import Body, LengthReader
    from gunicorn.http.unreader import SocketUnreader
except ImportError:  # pragma: no cover
    Body = LengthReader = SocketUnreader = None  # type: ignore[assignment,misc]


class SocketBody:
    """Exactly `size` bytes: those already received, then the socket's."""

    def __init__(self, received: bytes, sock: socket.socket, size: int) -> None:
        self._received = memoryview(received)
        self._sock = sock
        self._left = size

    def readinto(self, buffer: memoryview) -> int:
        want = min(len(buffer), self._left)
        if want <= 0:
            return 0
        if self._received:
            n = min(want, len(self._received))
            buffer[:n] = self._received[:n]
            self._received = self._received[n:]
        else:
            n = self._sock.recv_into(buffer, want)
            if n == 0:
                self._left = 0  # the client went away: the caller sees a short part
                return 0
        self._left -= n
        return n

    def read(self, size: int = -1) -> bytes:
        buffer = bytearray(self._left if size < 0 else min(size, self._left))
        n = self.readinto(memoryview(buffer))
        return bytes(buffer[:n])


def socket_body(environ: dict[str, Any], size: int) -> SocketBody | None:
    """The body as a SocketBody if it can be read from the socket safely (see the module)."""
    body = environ.get("wsgi.input")
    sock = environ.get("gunicorn.socket")
    if Body is None or type(body) is not Body or not isinstance(sock, socket.socket):
        return None
    reader = body.reader
    if type(reader) is not LengthReader or reader.length != size or body.buf.tell() != 0:
        return None
    unreader = reader.unreader
    if type(unreader) is not SocketUnreader or unreader.sock is not sock:
        return None
    received = unreader.take_buffered()
    if len(received) > size:  # a pipelined request behind this one: leave everything to gunicorn
        unreader.unread(received)
        return None
    reader.length = 0  # from here on the body is ours: gunicorn must not wait for it
    return SocketBody(received, sock, size)
