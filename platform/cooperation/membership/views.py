"""Membership administration (Secretariat) and State user management (focal points)."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user
from sqlalchemy import select

from cooperation import permissions as p
from cooperation.accounts.models import User
from cooperation.extensions import db
from cooperation.membership.models import Party

bp = Blueprint("membership", __name__)


@bp.get("/admin/membership")
@p.require(p.MEMBERSHIP_ADMIN)
def admin_index():  # type: ignore[no-untyped-def]
    parties = db.session.scalars(select(Party).order_by(Party.kind, Party.name_en)).all()
    return render_template("membership/admin_index.html", parties=parties)


@bp.get("/my-state/users")
@p.require(p.STATE_USERS_MANAGE)
def state_users():  # type: ignore[no-untyped-def]
    users = db.session.scalars(select(User).where(User.party_id == current_user.party_id)
                               .order_by(User.full_name)).all()
    return render_template("membership/state_users.html", users=users)
