"""A real PostgreSQL server (Debian's package) in a temporary directory on a loopback port.

Started once per test session by the `postgres_url` fixture. As root, the server runs as the
`postgres` system user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def find_bindir() -> Path | None:
    base = Path("/usr/lib/postgresql")
    if not base.is_dir():
        return None
    versions = sorted((p for p in base.iterdir() if (p / "bin" / "initdb").exists()), key=lambda p: int(p.name))
    return versions[-1] / "bin" if versions else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PostgresServer:
    def __init__(self) -> None:
        bindir = find_bindir()
        if bindir is None:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql)")
        self.bindir = bindir
        self.tmp = Path(tempfile.mkdtemp(prefix="coop-pg-"))
        self.datadir = self.tmp / "data"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        self.created: set[str] = set()

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = list(args)
        if self.as_root:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120)
        if check and done.returncode != 0:  # say why: a bare CalledProcessError hides stderr
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
        return done

    def start(self) -> PostgresServer:
        if self.as_root:
            shutil.chown(self.tmp, "postgres", "postgres")
        self._run(str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", "postgres",
                  "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--data-checksums")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.tmp / "log"),
                  "-w", "-t", "60", "start", "-o",
                  f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.tmp} -c fsync=off "
                  "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        deadline = time.time() + 30
        while time.time() < deadline:
            if self._run(str(self.bindir / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port),
                         check=False).returncode == 0:
                return self
            time.sleep(0.2)
        raise RuntimeError("PostgreSQL did not become ready")

    def database(self, name: str) -> str:
        """The database `name`, created on first use. Session fixtures parametrized by backend are
        set up again whenever a worker switches back to PostgreSQL (xdist interleaves the
        parameters), and must then find the database they made before, not fail to re-create it."""
        if name not in self.created:
            self.create_database(name)
            self.created.add(name)
        return self.url(name)

    def create_database(self, name: str) -> str:
        # From template0, which takes no connections: copying template1 fails outright ("source
        # database is being accessed by other users") when autovacuum happens to visit it, which
        # a busy machine sees soon after start-up. A few retries cover any other transient refusal.
        for attempt in range(5):
            try:
                self._run(str(self.bindir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                          "--template=template0", "--encoding=UTF8", name)
                break
            except RuntimeError:
                if attempt == 4:
                    raise
                time.sleep(1 + attempt)
        return self.url(name)

    def url(self, name: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop", check=False)
        shutil.rmtree(self.tmp, ignore_errors=True)
