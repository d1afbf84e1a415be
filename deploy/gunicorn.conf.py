"""gunicorn settings for one application instance (several run side by side behind nginx).

Run:  gunicorn -c deploy/gunicorn.conf.py
Environment (all optional): GUNICORN_BIND (default 127.0.0.1:8001), GUNICORN_WORKERS (default
2 x CPUs + 1), GUNICORN_TIMEOUT (30), PROMETHEUS_MULTIPROC_DIR (a private per-instance directory).
Every instance is stateless: sessions, sign-in throttling, rate limits, one-time codes and the
audit chain live in PostgreSQL, and uploaded files on the shared attachment volume.
"""

import os
import shutil
import tempfile
from pathlib import Path


def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # honours container CPU sets
    except AttributeError:
        return os.cpu_count() or 1


wsgi_app = "cooperation.app:create_app()"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8001")
workers = int(os.environ.get("GUNICORN_WORKERS", 2 * _cpus() + 1))
worker_class = "sync"  # nginx buffers slow clients, so sync workers are never held by them
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))  # a stuck worker is killed and replaced
graceful_timeout = 30
keepalive = 5
max_requests = 5000  # recycle workers now and then: bounds slow memory growth
max_requests_jitter = 500
limit_request_line = 8190
limit_request_fields = 100

# Only the local nginx may set X-Forwarded-Proto/-For; the app trusts exactly one hop
# (TRUSTED_PROXY_HOPS=1, werkzeug ProxyFix).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}

# Logs: JSON lines on stdout (journald, the container runtime or the log shipper collects them).
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
logger_class = "cooperation.ops.accesslog.JsonAccessLogger"

# Prometheus: workers are processes; their samples are summed through files in this directory.
_metrics_dir = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="cooperation-metrics-"))
Path(_metrics_dir).mkdir(parents=True, exist_ok=True, mode=0o700)  # also for --check-config


def on_starting(server):  # type: ignore[no-untyped-def]
    # Samples of a previous run would be summed with the new ones: start empty.
    path = Path(_metrics_dir)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True, mode=0o700)


def post_worker_init(worker):  # type: ignore[no-untyped-def]
    # The application's start-up objects (hundreds of thousands: SQLAlchemy, Flask, Babel) never
    # die; frozen, the collector stops walking them on every full collection, which otherwise
    # landed on every few dozenth request as several milliseconds of latency.
    import gc

    gc.freeze()


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
