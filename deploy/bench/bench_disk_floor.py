"""Benchmark (not a test): the floor under the attachment upload on this machine, with no
application at all: bytes received on a loopback socket and written to new 8 MiB files, the way
the server stores parts, 256 MiB per round.

Round 1 writes into whatever memory the kernel hands out; each later round first deletes the
previous round's files, so it writes into memory the kernel has just used. On a freshly booted
VM the first kind is memory the guest has never touched, which the hypervisor backs page by page
at first use: that, not the application, is what bounds a first upload there.

    python3 deploy/bench/bench_disk_floor.py
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

MIB = 1 << 20
PART = 8 * MIB
SIZE = 256 * MIB


def receive(listener: socket.socket, into: Path) -> None:
    conn, _ = listener.accept()
    view = memoryview(bytearray(MIB))
    got = 0
    while got < SIZE:
        with open(into / f"{got // PART:06d}.part", "wb", buffering=0) as out:
            end = got + PART
            while got < end:
                n = conn.recv_into(view, min(MIB, end - got))
                out.write(view[:n])
                got += n
    conn.sendall(b"k")
    conn.close()


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="disk-floor-"))
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    payload = os.urandom(PART)
    try:
        for round_ in range(1, 5):
            target = root / f"round{round_}"
            target.mkdir()
            server = threading.Thread(target=receive, args=(listener, target))
            server.start()
            with socket.create_connection(listener.getsockname()) as client:
                t0 = time.perf_counter()
                for _ in range(SIZE // PART):
                    client.sendall(payload)
                client.recv(1)
                elapsed = time.perf_counter() - t0
            server.join()
            kind = "memory as handed out" if round_ == 1 else "memory just freed by the previous round"
            print(f"round {round_}: {SIZE / elapsed / 1e6:5.0f} MB/s  ({kind})")
            shutil.rmtree(target)
    finally:
        listener.close()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
