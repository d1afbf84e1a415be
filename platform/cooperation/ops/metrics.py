"""Prometheus metrics at /metrics, in the text exposition format.

Under gunicorn each worker is a process: with PROMETHEUS_MULTIPROC_DIR set (deploy/gunicorn.conf.py
does it), prometheus_client writes every worker's samples to files there and a scrape sums them,
so a scrape that lands on any worker sees the whole instance. Without it (development, tests),
the samples are the process's own.

Access: /metrics is declared @public because Prometheus does not sign in; it answers only to
client addresses inside METRICS_ALLOWED_NETWORKS (default: loopback) and is a 404 for everyone
else, as if it did not exist. The address is the one after ProxyFix, i.e. the real client as
nginx saw it, and nginx itself refuses /metrics from outside (deploy/nginx/cooperation.conf):
Prometheus scrapes each instance directly on its loopback or pod address.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterator
from functools import lru_cache

from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

from cooperation.permissions import public

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

REQUESTS = Counter("cooperation_http_requests_total", "HTTP requests handled, by endpoint and status",
                   ["endpoint", "method", "status"])
LATENCY = Histogram("cooperation_http_request_duration_seconds",
                    "Time to handle a request, by endpoint and status", ["endpoint", "status"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
RATE_LIMITED = Counter("cooperation_rate_limited_total", "Requests refused by the shared rate limiter",
                       ["limit"])
DB_POOL_CHECKED_OUT = Gauge("cooperation_db_pool_checked_out", "Database connections in use",
                            multiprocess_mode="livesum")
DB_POOL_SIZE = Gauge("cooperation_db_pool_size", "Database connections kept open in the pools",
                     multiprocess_mode="livesum")
DB_POOL_OVERFLOW = Gauge("cooperation_db_pool_overflow", "Connections opened beyond the pool size",
                         multiprocess_mode="livesum")

bp = Blueprint("metrics", __name__)


def observe_request(endpoint: str, method: str, status: int, seconds: float) -> None:
    REQUESTS.labels(endpoint=endpoint, method=method, status=str(status)).inc()
    LATENCY.labels(endpoint=endpoint, status=str(status)).observe(seconds)
    _sample_pool()


def _sample_pool() -> None:
    from cooperation.extensions import db

    try:
        pool = db.engine.pool
    except RuntimeError:  # outside an application context
        return
    for gauge, reading in ((DB_POOL_CHECKED_OUT, "checkedout"), (DB_POOL_SIZE, "size"),
                           (DB_POOL_OVERFLOW, "overflow")):
        method = getattr(pool, reading, None)
        if callable(method):
            gauge.set(max(int(method()), 0))


class AuditCollector(Collector):
    """Read at scrape time from the database, so it is the same on every instance."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from sqlalchemy import select

        from cooperation.audit.models import AuditHead
        from cooperation.extensions import db

        family = GaugeMetricFamily("cooperation_audit_entries", "Entries in the hash-chained audit log")
        try:
            seq = db.session.scalar(select(AuditHead.seq).where(AuditHead.id == 1)) or 0
        except Exception:  # noqa: BLE001 - a scrape must not fail with the database; up is 0
            db.session.rollback()
            up = GaugeMetricFamily("cooperation_database_up", "Whether the database answered the scrape")
            up.add_metric([], 0)
            yield up
            return
        family.add_metric([], seq)
        yield family
        up = GaugeMetricFamily("cooperation_database_up", "Whether the database answered the scrape")
        up.add_metric([], 1)
        yield up


class _ProcessCollector(Collector):
    """This process's own samples (when not under gunicorn's multiprocess mode)."""

    def collect(self) -> Iterator[object]:
        yield from REGISTRY.collect()


def _registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ProcessCollector())
    registry.register(AuditCollector())
    return registry


@lru_cache(maxsize=16)
def _networks(allowed: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(n) for n in allowed)


def client_allowed(address: str, allowed: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in _networks(allowed))


@bp.get("/metrics")
@public  # no session: guarded by METRICS_ALLOWED_NETWORKS below, 404 for anyone else
def metrics():  # type: ignore[no-untyped-def]
    allowed = current_app.config["COOPERATION_SETTINGS"].metrics_allowed_networks
    if not client_allowed(request.remote_addr or "", allowed):
        abort(404)
    return Response(generate_latest(_registry()), content_type=CONTENT_TYPE)
