"""Build the audit Actor from the current request (view layer only)."""

from __future__ import annotations

from flask import request
from flask_login import current_user

from cooperation.audit.service import Actor


def request_actor(user: object | None = None) -> Actor:
    """The signed-in user (or `user`, e.g. during login) and the client address."""
    who = user if user is not None else current_user
    ip = (request.remote_addr or "")[:64]
    if getattr(who, "is_authenticated", False) or user is not None:
        return Actor(user_id=who.id, label=who.email,  # type: ignore[attr-defined]
                     party_code=who.party.code, ip_address=ip)  # type: ignore[attr-defined]
    return Actor(user_id=None, label="anonymous", party_code="", ip_address=ip)
