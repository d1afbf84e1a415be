"""Operations: structured logs with request ids, Prometheus metrics, a rate limiter shared by
every instance (database), and backup/restore. Wired into the app by create_app()."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Request ids and logs (first before-request hook), /metrics, and the shared limiter
    (after the permission hooks, so only declared, reachable endpoints are counted)."""
    from cooperation.ops import logs, metrics, ratelimit, requestguard

    # Before the permission hooks: a NUL must not even reach the session or user lookup.
    app.before_request_funcs.setdefault(None, []).insert(0, requestguard.refuse_nul)
    logs.init_app(app)  # inserts itself in front of that: every request gets an id
    app.register_blueprint(metrics.bp)
    app.before_request(ratelimit.enforce)
