"""The production stack on loopback: a durable PostgreSQL, gunicorn instances started with
deploy/gunicorn.conf.py, and nginx running deploy/nginx/cooperation.conf (ports and paths
substituted) with a self-signed certificate. Used by tests/ops and deploy/bench/run_load.sh.

Nothing here mocks a component: the processes are the real programs.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.pg_server import PostgresServer, free_port

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
NGINX_SITE = REPO / "deploy" / "nginx" / "cooperation.conf"
GUNICORN_CONF = REPO / "deploy" / "gunicorn.conf.py"
PASSWORD = "correct horse battery staple"


def wait_for_port(port: int, timeout: float = 30.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


# -- PostgreSQL with production durability -----------------------------------------------------

class DurablePostgres(PostgresServer):
    """fsync and synchronous_commit ON (the shared test server turns them off for speed, which
    would lose acknowledged commits on a crash and so cannot prove anything about crashes)."""

    def start(self) -> DurablePostgres:
        if self.as_root:
            import shutil

            shutil.chown(self.tmp, "postgres", "postgres")
        self._run(str(self.bindir / "initdb"), "-D", str(self.datadir), "-U", "postgres",
                  "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--data-checksums")
        self._start()
        return self

    def _options(self) -> str:
        return (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.tmp} -c fsync=on "
                "-c synchronous_commit=on -c full_page_writes=on -c max_connections=200")

    def _start(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.tmp / "log"),
                  "-w", "-t", "60", "start", "-o", self._options())

    def restart_fast(self) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.tmp / "log"),
                  "-m", "fast", "-w", "-t", "60", "restart", "-o", self._options())

    def postmaster_pid(self) -> int:
        return int((self.datadir / "postmaster.pid").read_text().splitlines()[0])

    def kill_and_start(self) -> None:
        """SIGKILL the postmaster (a crash), wait for its children to go, start: crash recovery."""
        pid = self.postmaster_pid()
        children = [int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                                                   text=True).stdout.split()]
        os.kill(pid, signal.SIGKILL)
        # The backends notice the dead postmaster and exit; a new postmaster cannot start while
        # they hold the old shared memory. Whatever lingers after 10 s is killed too.
        deadline = time.time() + 10
        while time.time() < deadline and any(_alive(c) for c in children):
            time.sleep(0.1)
        for child in children:
            if _alive(child):
                os.kill(child, signal.SIGKILL)
        while any(_alive(c) for c in children) or _listening(self.port):
            time.sleep(0.1)
        # What a crashed postmaster leaves behind (a host crash would clear /tmp sockets too).
        (self.datadir / "postmaster.pid").unlink(missing_ok=True)
        (self.tmp / f".s.PGSQL.{self.port}.lock").unlink(missing_ok=True)
        (self.tmp / f".s.PGSQL.{self.port}").unlink(missing_ok=True)
        self._start()

    def log(self) -> str:
        return (self.tmp / "log").read_text(errors="replace")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purpose.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (OSError, IndexError):
        return False


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


# -- gunicorn ---------------------------------------------------------------------------------

@dataclass
class AppInstance:
    port: int
    env: dict[str, str]
    workdir: Path
    workers: int = 2
    proc: subprocess.Popen | None = None
    starts: int = 0

    @property
    def log_path(self) -> Path:
        return self.workdir / f"gunicorn-{self.port}.log"

    def start(self) -> AppInstance:
        env = {**os.environ, **self.env, "GUNICORN_BIND": f"127.0.0.1:{self.port}",
               "GUNICORN_WORKERS": str(self.workers),
               "PROMETHEUS_MULTIPROC_DIR": str(self.workdir / f"metrics-{self.port}")}
        env.pop("PYTEST_XDIST_WORKER", None)
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen([str(VENV_BIN / "gunicorn"), "-c", str(GUNICORN_CONF)], env=env,
                                     stdout=log, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True)
        log.close()
        self.starts += 1
        wait_for_port(self.port, 60, self.proc)
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group: master and workers (SIGKILL: no clean-up at all)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        # Orphaned workers (SIGKILL reaches the group, but be sure) must not hold the port.
        deadline = time.time() + 10
        while _listening(self.port) and time.time() < deadline:
            time.sleep(0.1)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


# -- nginx ------------------------------------------------------------------------------------

def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost (cryptography, EC P-256)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path


def render_site(https_port: int, http_port: int, app_ports: list[int], cert: Path, key: Path,
                logs: Path, rate_overrides: dict[str, str] | None = None) -> str:
    """deploy/nginx/cooperation.conf with this machine's ports and paths: each substitution must
    apply, so the file tested is the file shipped."""
    site = NGINX_SITE.read_text()
    upstreams = "\n".join(f"    server 127.0.0.1:{p} max_fails=3 fail_timeout=10s;" for p in app_ports)
    replacements = [
        ("    server 127.0.0.1:8001 max_fails=3 fail_timeout=10s;\n"
         "    server 127.0.0.1:8002 max_fails=3 fail_timeout=10s;", upstreams),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("listen [::]:443 ssl http2;", ""),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen [::]:80;", ""),
        ("/etc/ssl/cooperation/fullchain.pem", str(cert)),
        ("/etc/ssl/cooperation/privkey.pem", str(key)),
        ("/opt/cooperation/static/", f"{REPO / 'static'}/"),
        ("/var/log/nginx/cooperation.access.log", str(logs / "access.log")),
        ("/var/log/nginx/cooperation.error.log", str(logs / "error.log")),
    ]
    for old, new in replacements:
        assert old in site, f"nginx site no longer contains {old!r}: update tests/ops/stack.py"
        site = site.replace(old, new)
    for zone, rate in (rate_overrides or {}).items():
        site, count = re.subn(rf"(zone={zone}:10m rate=)\S+;", rf"\g<1>{rate};", site)
        assert count == 1, zone
    return site


@dataclass
class Nginx:
    workdir: Path
    app_ports: list[int]
    rate_overrides: dict[str, str] = field(default_factory=dict)
    https_port: int = 0
    http_port: int = 0
    proc: subprocess.Popen | None = None

    def start(self) -> Nginx:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.https_port = self.https_port or free_port()
        self.http_port = self.http_port or free_port()
        self.cert, key = make_certificate(self.workdir)
        site = render_site(self.https_port, self.http_port, self.app_ports, self.cert, key, self.workdir,
                           self.rate_overrides)
        (self.workdir / "cooperation.conf").write_text(site)
        for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (self.workdir / sub).mkdir(exist_ok=True)
        user = "user root;\n" if os.geteuid() == 0 else ""
        temp = "".join(f"  {name}_temp_path {self.workdir / sub};\n" for name, sub in (
            ("client_body", "client_body"), ("proxy", "proxy"), ("fastcgi", "fastcgi"),
            ("uwsgi", "uwsgi"), ("scgi", "scgi")))
        (self.workdir / "nginx.conf").write_text(
            f"{user}worker_processes 2;\npid {self.workdir / 'nginx.pid'};\n"
            f"error_log {self.workdir / 'main-error.log'} warn;\n"
            "events { worker_connections 2048; }\n"
            "http {\n  include /etc/nginx/mime.types;\n  default_type application/octet-stream;\n"
            f"  access_log off;\n{temp}  include {self.workdir / 'cooperation.conf'};\n}}\n")
        cmd = ["nginx", "-p", str(self.workdir), "-c", str(self.workdir / "nginx.conf"),
               "-e", str(self.workdir / "main-error.log")]
        check = subprocess.run([*cmd, "-t"], capture_output=True, text=True, check=False)
        if check.returncode != 0:
            raise RuntimeError(f"nginx -t failed: {check.stderr}")
        self.proc = subprocess.Popen([*cmd, "-g", "daemon off;"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        wait_for_port(self.https_port, 20, self.proc)
        return self

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)

    def access_log(self) -> str:
        path = self.workdir / "access.log"
        return path.read_text(errors="replace") if path.exists() else ""
