"""WebAuthn registration and sign-in endpoints (JSON, CSRF-protected)."""

from __future__ import annotations

from flask import Blueprint, abort

from cooperation import permissions as p

bp = Blueprint("webauthn", __name__, url_prefix="/webauthn")


@bp.post("/register/options")
@p.require(p.ACCOUNT_SELF_MANAGE)
def register_options():  # type: ignore[no-untyped-def]
    abort(404)


@bp.post("/register/verify")
@p.require(p.ACCOUNT_SELF_MANAGE)
def register_verify():  # type: ignore[no-untyped-def]
    abort(404)


@bp.post("/login/options")
@p.public
def login_options():  # type: ignore[no-untyped-def]
    abort(404)


@bp.post("/login/verify")
@p.public
def login_verify():  # type: ignore[no-untyped-def]
    abort(404)


@bp.post("/keys/<int:credential_id>/remove")
@p.require(p.ACCOUNT_SELF_MANAGE)
def remove(credential_id: int):  # type: ignore[no-untyped-def]
    abort(404)
