"""Sign-in in two steps. Between them the session holds only a pending user id with a short
deadline; the user is not signed in (Flask-Login) until the second factor succeeds, so no step
can be skipped (ASVS 2.3.1). The session token is replaced at each step (ASVS 7.2.4)."""

from __future__ import annotations

import time

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_user, logout_user

from cooperation import permissions as p
from cooperation.accounts.models import User
from cooperation.audit.context import request_actor
from cooperation.audit.service import record
from cooperation.auth import services
from cooperation.auth.forms import LoginForm, RecoveryCodeForm, TotpForm
from cooperation.extensions import db
from cooperation.security import webauthn as webauthn_mfa

bp = Blueprint("auth", __name__)

PENDING_KEY = "mfa_pending"
PENDING_SECONDS = 300


def _ip() -> str:
    return (request.remote_addr or "")[:64]


def pending_user() -> User | None:
    pending = session.get(PENDING_KEY)
    if not pending or time.time() > pending.get("deadline", 0):
        return None
    user = db.session.get(User, pending.get("user_id"))
    return user if user is not None and user.is_active else None


def finish_login(user: User, method: str) -> None:
    """Shared by every second factor (TOTP, recovery code, WebAuthn)."""
    services.complete_login(db.session, user, method, _ip())
    db.session.commit()
    session.pop(PENDING_KEY, None)
    session.rotate()  # type: ignore[attr-defined]
    login_user(user, remember=False)
    session["auth_time"] = int(time.time())
    session["mfa_method"] = method
    session["locale"] = user.locale


@bp.route("/login", methods=["GET", "POST"])
@p.public
def login():  # type: ignore[no-untyped-def]
    if current_user.is_authenticated:
        return redirect(url_for("dashboard.index"))
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        try:
            user = services.check_password(db.session, form.email.data, form.password.data, _ip())
        except services.LoginRefused as refused:
            db.session.commit()  # keep the failure count and the audit entry
            error = str(refused)
        else:
            db.session.commit()
            session.rotate()  # type: ignore[attr-defined]
            session[PENDING_KEY] = {"user_id": user.id, "deadline": time.time() + PENDING_SECONDS}
            if user.status.value == "pending":
                # Invitation accepted but enrolment unfinished: finish it now.
                session.pop(PENDING_KEY, None)
                session["enrol_user_id"] = user.id
                return redirect(url_for("accounts.enrol_totp"))
            return redirect(url_for("auth.second_factor"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form, error=error), status


@bp.route("/login/verify", methods=["GET", "POST"])
@p.public
def second_factor():  # type: ignore[no-untyped-def]
    user = pending_user()
    if user is None:
        session.pop(PENDING_KEY, None)
        flash(_("Please sign in again."), "warning")
        return redirect(url_for("auth.login"))
    require_key = services.webauthn_required(user) and webauthn_mfa.has_credentials(db.session, user)
    totp_form = TotpForm(prefix="totp")
    recovery_form = RecoveryCodeForm(prefix="recovery")
    error = None
    method = request.form.get("method")
    if request.method == "POST":
        try:
            if method == "totp" and totp_form.validate_on_submit():
                if require_key:
                    raise services.LoginRefused(_("Administrators must use their security key."))
                result = services.check_totp(db.session, user, totp_form.code.data, _ip())
            elif method == "recovery" and recovery_form.validate_on_submit():
                result = services.check_recovery_code(db.session, user, recovery_form.recovery_code.data, _ip())
            else:
                raise services.LoginRefused(_("Enter a code."))
        except services.LoginRefused as refused:
            db.session.commit()
            error = str(refused)
        else:
            finish_login(user, result.method)
            if result.recovery_codes_left is not None:
                flash(ngettext("You used a recovery code; %(num)d remains. Create new ones if you are running out.",
                                "You used a recovery code; %(num)d remain. Create new ones if you are running out.",
                        result.recovery_codes_left), "warning")
            return redirect(_after_login_target(user))
    return render_template("auth/second_factor.html", user=user, totp_form=totp_form,
                           recovery_form=recovery_form, error=error, require_key=require_key,
                           has_key=webauthn_mfa.has_credentials(db.session, user)), \
        (400 if error else 200)


def _after_login_target(user: User) -> str:
    if services.webauthn_required(user) and not webauthn_mfa.has_credentials(db.session, user):
        flash(_("Administrators must register a security key before continuing."), "warning")
        return url_for("accounts.security")
    return url_for("dashboard.index")


@bp.post("/logout")
@p.public
def logout():  # type: ignore[no-untyped-def]
    if current_user.is_authenticated:
        record(db.session, "auth.logout", request_actor(), target_type="user", target_id=current_user.id)
        db.session.commit()
        logout_user()
    session.destroy()  # type: ignore[attr-defined]
    response = redirect(url_for("auth.login"))
    # Clear cached pages (ASVS 14.3.1). Not "storage": the browser's end-to-end device keys
    # live in IndexedDB and must survive a sign-out, or every sign-in would need a new device.
    response.headers["Clear-Site-Data"] = '"cache"'
    return response
