"""The landing page after sign-in; what it shows depends on the role."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from cooperation import permissions as p
from cooperation.dashboard import services
from cooperation.extensions import db

bp = Blueprint("dashboard", __name__)


@bp.get("/")
@p.public
def home():  # type: ignore[no-untyped-def]
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    return redirect(url_for("auth.login"))


@bp.get("/dashboard")
@p.require(p.DASHBOARD_VIEW)
def index():  # type: ignore[no-untyped-def]
    summary = services.summary_for(db.session, current_user)
    return render_template("dashboard/index.html", summary=summary)
