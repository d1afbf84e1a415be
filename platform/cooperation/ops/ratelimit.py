"""A rate limiter for expensive endpoints, counted in the database (ASVS 2.4.1, 15.2.2).

An in-process limiter (Flask-Limiter's memory:// store) counts per gunicorn worker: with two
workers on two instances an attacker gets four times the limit. Here every hit is a row, and
the hits of one bucket are serialised through a bucket row lock, so "5 per hour" allows 5 in
total whatever the number of workers and instances. The window slides: at most COUNT hits in
any PERIOD. Refused attempts are not recorded, so hammering does not extend the wait.

Which endpoints are limited is one table (RULES), applied by a before-request hook, like the
permission declarations: the views stay unaware of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import Flask, Request, Response, current_app, make_response, request
from flask_login import current_user
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cooperation.db import utcnow
from cooperation.ops.models import RateLimitBucket, RateLimitHit

PERIODS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


class LimitError(ValueError):
    """A limit setting cannot be read; the message shows the expected form."""


@dataclass(frozen=True)
class Limit:
    count: int
    window: timedelta


def parse_limit(text: str) -> Limit:
    """'COUNT/PERIOD', e.g. '30/hour'; PERIOD is second, minute, hour or day."""
    count, _, period = text.strip().partition("/")
    period = period.strip().lower().removesuffix("s")
    if not count.strip().isdigit() or period not in PERIODS or int(count) < 1:
        raise LimitError(f"{text!r} is not a limit such as 30/hour (COUNT/minute, hour or day)")
    return Limit(int(count), timedelta(seconds=PERIODS[period]))


def hit(session: Session, key: str, limit: Limit, now: datetime | None = None) -> timedelta | None:
    """Count one attempt on `key`: None if allowed, otherwise how long until the next one is.

    Runs in the caller's transaction, which must not have read anything yet on SQLite (the
    bucket upsert is its first statement, so it waits for the write lock instead of failing).
    """
    now = now or utcnow()
    _lock_bucket(session, key, now)
    count, oldest = session.execute(
        select(func.count(), func.min(RateLimitHit.created_at))
        .where(RateLimitHit.key == key, RateLimitHit.created_at > now - limit.window)
    ).one()
    if count >= limit.count:
        oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=now.tzinfo)
        return max(oldest + limit.window - now, timedelta(seconds=1))
    session.add(RateLimitHit(key=key, created_at=now))
    session.flush()
    return None


def _lock_bucket(session: Session, key: str, now: datetime) -> None:
    """Create or touch the bucket row: an UPDATE that locks it until the transaction ends."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(RateLimitBucket).values(key=key, updated_at=now)
    session.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"updated_at": now}))


def purge_older_than(session: Session, cutoff: datetime) -> int:
    removed = session.execute(delete(RateLimitHit).where(RateLimitHit.created_at < cutoff)).rowcount or 0
    session.execute(delete(RateLimitBucket).where(RateLimitBucket.updated_at < cutoff))
    return removed


# -- which endpoints ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    limit_name: str  # invitations | reauth | exports (settings rate_limit_<name>)
    endpoints: frozenset[str]
    methods: frozenset[str]
    applies: Callable[[Request], bool] = field(default=lambda _request: True)


RULES: tuple[Rule, ...] = (
    Rule("invitations", frozenset({"membership.admin_invitations", "membership.state_invite"}),
         frozenset({"POST"})),
    # Every form that checks the current password (on top of the sign-in failure throttle).
    Rule("reauth", frozenset({"accounts.change_password", "accounts.regenerate_recovery_codes",
                              "webauthn.register_options", "webauthn.register_without_script",
                              "webauthn.remove"}), frozenset({"POST"})),
    Rule("reauth", frozenset({"accounts.replace_totp"}), frozenset({"POST"}),
         applies=lambda r: "current" in r.form),
    Rule("exports", frozenset({"audit.export_csv", "directory.export_csv",
                               "questionnaires.export_csv", "questionnaires.export_xlsx",
                               "noncooperation.export_csv", "agreements.export_csv"}),
         frozenset({"GET"})),
)


def rule_for(req: Request) -> Rule | None:
    for rule in RULES:
        if req.endpoint in rule.endpoints and req.method in rule.methods and rule.applies(req):
            return rule
    return None


def limit_of(app: Flask, name: str) -> Limit:
    return parse_limit(getattr(app.config["COOPERATION_SETTINGS"], f"rate_limit_{name}"))


def enforce() -> Response | None:
    """before_request: count the hit in its own committed transaction; 429 past the limit."""
    from cooperation.audit.context import request_actor
    from cooperation.audit.service import record
    from cooperation.errors import render_error
    from cooperation.extensions import db

    rule = rule_for(request)
    if rule is None or not current_user.is_authenticated:
        return None  # anonymous requests to these views are sent to sign in by the view
    user_id = current_user.id
    # End whatever the request read so far: the hit's transaction must start with its write,
    # and it commits now, whatever the view then does (a failed attempt still counts).
    db.session.commit()
    wait = hit(db.session, f"{rule.limit_name}:user:{user_id}", limit_of(current_app, rule.limit_name))
    if wait is not None:
        record(db.session, "ratelimit.refused", request_actor(), outcome="failure",
               target_type="rate_limit", target_id=rule.limit_name, details={"endpoint": request.endpoint})
    db.session.commit()
    if wait is None:
        return None
    from cooperation.ops import metrics

    metrics.RATE_LIMITED.labels(limit=rule.limit_name).inc()
    response = make_response(render_error(429))
    response.headers["Retry-After"] = str(int(wait.total_seconds()) + 1)
    return response
