"""Liveness and readiness probes for the operator (no data, no version banner)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from cooperation.extensions import db
from cooperation.permissions import public

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@public
def healthz():  # type: ignore[no-untyped-def]
    return jsonify(status="ok")


@bp.get("/readyz")
@public
def readyz():  # type: ignore[no-untyped-def]
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # any database failure means "not ready"; details stay in the log
        db.session.rollback()
        return jsonify(status="unavailable"), 503
    return jsonify(status="ready")
