"""Invitation acceptance and MFA enrolment; one's own profile, password, factors and sessions."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from sqlalchemy import select

from cooperation import permissions as p
from cooperation.accounts import services
from cooperation.accounts.forms import (
    PASSWORD_HINT,
    AcceptInvitationForm,
    ChangePasswordForm,
    LanguageForm,
    ProfileForm,
    ReauthForm,
    TotpEnrolForm,
)
from cooperation.accounts.models import User, UserStatus
from cooperation.audit.context import request_actor
from cooperation.audit.service import Actor, record
from cooperation.extensions import db
from cooperation.i18n import LANGUAGES
from cooperation.security import passwords, recovery, totp
from cooperation.security import webauthn as webauthn_mfa
from cooperation.security.models import WebSession
from cooperation.security.sessions import end_sessions_of, hash_token

bp = Blueprint("accounts", __name__)

ENROL_KEY = "enrol_user_id"
ENROL_SECRET_KEY = "enrol_totp_secret"
CODES_KEY = "fresh_recovery_codes"


def _ip() -> str:
    return (request.remote_addr or "")[:64]


# -- onboarding -------------------------------------------------------------------------------

@bp.route("/invitations/<token>", methods=["GET", "POST"])
@p.public
def accept_invitation(token: str):  # type: ignore[no-untyped-def]
    invitation = services.find_invitation(db.session, token)
    if invitation is None:
        return render_template("accounts/invitation_invalid.html"), 404
    if current_user.is_authenticated:
        logout_user()
    form = AcceptInvitationForm(full_name=invitation.full_name)
    error = None
    if form.validate_on_submit():
        try:
            user = services.accept_invitation(db.session, invitation, full_name=form.full_name.data,
                                              password=form.password.data, locale=form.locale.data,
                                              actor_ip=_ip())
            db.session.commit()
        except services.AccountError as exc:
            db.session.rollback()
            error = str(exc)
            form.password.errors = [error]
        else:
            session.rotate()  # type: ignore[attr-defined]
            session[ENROL_KEY] = user.id
            session["locale"] = user.locale
            return redirect(url_for("accounts.enrol_totp"))
    return render_template("accounts/accept_invitation.html", form=form, invitation=invitation,
                           password_hint=PASSWORD_HINT,
                           role_label=services.ROLE_LABELS[invitation.role]), \
        (400 if request.method == "POST" else 200)


@bp.route("/enrol/authenticator", methods=["GET", "POST"])
@p.public
def enrol_totp():  # type: ignore[no-untyped-def]
    """Mandatory second factor for a newcomer whose password step is done."""
    user = db.session.get(User, session.get(ENROL_KEY) or 0)
    if user is None or user.status != UserStatus.PENDING:
        session.pop(ENROL_KEY, None)
        return redirect(url_for("auth.login"))
    secret = session.get(ENROL_SECRET_KEY) or totp.new_secret()
    session[ENROL_SECRET_KEY] = secret
    form = TotpEnrolForm()
    if form.validate_on_submit():
        try:
            codes = services.confirm_totp_enrolment(db.session, user, secret, form.code.data,
                                                    Actor(user.id, user.email, user.party.code, _ip()))
        except services.AccountError as exc:
            db.session.rollback()
            form.code.errors = [str(exc)]
        else:
            from cooperation.auth.views import finish_login

            db.session.flush()
            finish_login(user, "totp")  # commits
            session.pop(ENROL_KEY, None)
            session.pop(ENROL_SECRET_KEY, None)
            session[CODES_KEY] = codes
            return redirect(url_for("accounts.show_recovery_codes"))
    uri = totp.provisioning_uri(secret, user.email)
    return render_template("accounts/enrol_totp.html", form=form, qr=totp.qr_data_uri(uri), secret=secret,
                           user=user), (400 if request.method == "POST" else 200)


@bp.get("/account/recovery-codes")
@p.authenticated
def show_recovery_codes():  # type: ignore[no-untyped-def]
    """Shown once, right after they are made; reloading shows nothing."""
    codes = session.pop(CODES_KEY, None)
    if not codes:
        return redirect(url_for("accounts.security"))
    return render_template("accounts/recovery_codes.html", codes=codes)


# -- profile ---------------------------------------------------------------------------------------

@bp.route("/account", methods=["GET", "POST"])
@p.require(p.ACCOUNT_SELF_MANAGE)
def profile():  # type: ignore[no-untyped-def]
    form = ProfileForm(obj=current_user)
    if form.validate_on_submit():
        current_user.full_name = form.full_name.data.strip()
        current_user.locale = form.locale.data
        session["locale"] = form.locale.data
        record(db.session, "account.profile.update", request_actor(), target_type="user",
               target_id=current_user.id)
        db.session.commit()
        flash(_("Your profile was saved."), "success")
        return redirect(url_for("accounts.profile"))
    return render_template("accounts/profile.html", form=form,
                           role_label=services.ROLE_LABELS[current_user.role]), \
        (400 if request.method == "POST" else 200)


@bp.route("/account/password", methods=["GET", "POST"])
@p.require(p.ACCOUNT_SELF_MANAGE)
def change_password():  # type: ignore[no-untyped-def]
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(db.session, current_user, form.current.data, form.password.data,
                                     request_actor())
            # Other sessions end: whoever else held the old password is out (ASVS 7.4.3).
            end_sessions_of(db.session, current_user.id, except_id_hash=_current_session_hash())
            db.session.commit()
        except services.AccountError as exc:
            db.session.rollback()
            form.password.errors = [str(exc)]
        else:
            session.rotate()  # type: ignore[attr-defined]
            flash(_("Your password was changed. Your other sessions were signed out."), "success")
            return redirect(url_for("accounts.profile"))
    return render_template("accounts/change_password.html", form=form, password_hint=PASSWORD_HINT), \
        (400 if request.method == "POST" else 200)


@bp.post("/language")
@p.public
def set_language():  # type: ignore[no-untyped-def]
    form = LanguageForm()
    if form.validate_on_submit() and form.locale.data in LANGUAGES:
        session["locale"] = form.locale.data
        if current_user.is_authenticated:
            current_user.locale = form.locale.data
            db.session.commit()
    target = request.referrer if request.referrer and request.referrer.startswith(request.host_url) else None
    return redirect(target or url_for("dashboard.home"))


# -- second factors ----------------------------------------------------------------------------------

@bp.route("/account/security", methods=["GET"])
@p.require(p.ACCOUNT_SELF_MANAGE)
def security():  # type: ignore[no-untyped-def]
    from cooperation.auth.services import webauthn_required

    return render_template("accounts/security.html", reauth=ReauthForm(),
                           keys=webauthn_mfa.credentials_of(db.session, current_user),
                           codes_left=recovery.remaining(db.session, current_user.id),
                           webauthn_required=webauthn_required(current_user))


def _reauthenticated(form: ReauthForm) -> bool:
    """Password re-entry before a factor changes; failures count towards the sign-in throttle,
    so a hijacked session cannot be used to guess the password."""
    from cooperation.auth.services import policy
    from cooperation.security import throttle

    if not form.validate_on_submit():
        return False
    if throttle.retry_after(db.session, policy(), current_user.email, _ip()) is not None:
        form.current.errors = [_("Too many failed attempts. Please wait before trying again.")]
        return False
    if not passwords.verify_password(current_user.password_hash, form.current.data):
        throttle.record_failure(db.session, current_user.email, _ip())
        record(db.session, "account.reauth", request_actor(), outcome="failure", target_type="user",
               target_id=current_user.id)
        db.session.commit()
        form.current.errors = [_("Your current password is not correct.")]
        return False
    return True


@bp.post("/account/security/recovery-codes")
@p.require(p.ACCOUNT_SELF_MANAGE)
def regenerate_recovery_codes():  # type: ignore[no-untyped-def]
    form = ReauthForm()
    if not _reauthenticated(form):
        flash(form.current.errors[0] if form.current.errors else _("Enter your current password."), "error")
        return redirect(url_for("accounts.security"))
    codes = recovery.replace_codes(db.session, current_user.id)
    record(db.session, "mfa.recovery_codes.replace", request_actor(), target_type="user", target_id=current_user.id)
    db.session.commit()
    session[CODES_KEY] = codes
    return redirect(url_for("accounts.show_recovery_codes"))


@bp.route("/account/security/authenticator", methods=["GET", "POST"])
@p.require(p.ACCOUNT_SELF_MANAGE)
def replace_totp():  # type: ignore[no-untyped-def]
    """Move the authenticator to a new device: password, then a code from the new device."""
    if request.method == "POST" and "current" in request.form:
        form = ReauthForm()
        if not _reauthenticated(form):
            flash(form.current.errors[0] if form.current.errors else _("Enter your current password."), "error")
            return redirect(url_for("accounts.security"))
        session[ENROL_SECRET_KEY] = totp.new_secret()
        session["totp_reauth"] = True
        return redirect(url_for("accounts.replace_totp"))
    secret = session.get(ENROL_SECRET_KEY)
    if not secret or not session.get("totp_reauth"):
        return redirect(url_for("accounts.security"))
    form = TotpEnrolForm()
    if form.validate_on_submit():
        try:
            codes = services.confirm_totp_enrolment(db.session, current_user, secret, form.code.data,
                                                    request_actor())
            end_sessions_of(db.session, current_user.id, except_id_hash=_current_session_hash())
            db.session.commit()
        except services.AccountError as exc:
            db.session.rollback()
            form.code.errors = [str(exc)]
        else:
            session.pop(ENROL_SECRET_KEY, None)
            session.pop("totp_reauth", None)
            session[CODES_KEY] = codes
            flash(_("Your authenticator was replaced; your other sessions were signed out."), "success")
            return redirect(url_for("accounts.show_recovery_codes"))
    uri = totp.provisioning_uri(secret, current_user.email)
    return render_template("accounts/enrol_totp.html", form=form, qr=totp.qr_data_uri(uri), secret=secret,
                           user=current_user, replacing=True), (400 if request.method == "POST" else 200)


# -- sessions -----------------------------------------------------------------------------------

def _current_session_hash() -> str | None:
    token = getattr(session, "token", None)
    return hash_token(token) if token else None


@bp.get("/account/sessions")
@p.require(p.ACCOUNT_SELF_MANAGE)
def sessions():  # type: ignore[no-untyped-def]
    rows = db.session.scalars(select(WebSession).where(WebSession.user_id == current_user.id)
                              .order_by(WebSession.last_seen_at.desc())).all()
    from cooperation.oauth.services import live_grants

    return render_template("accounts/sessions.html", rows=rows, current=_current_session_hash(),
                           api_grants=live_grants(db.session, current_user.id))


@bp.post("/account/sessions/<id_hash>/end")
@p.require(p.ACCOUNT_SELF_MANAGE)
def end_session(id_hash: str):  # type: ignore[no-untyped-def]
    row = db.session.get(WebSession, id_hash)
    if row is None or row.user_id != current_user.id:
        abort(404)
    db.session.delete(row)
    record(db.session, "session.end", request_actor(), target_type="session", target_id=id_hash[:12])
    db.session.commit()
    flash(_("The session was signed out."), "success")
    return redirect(url_for("accounts.sessions"))


@bp.post("/account/sessions/end-all")
@p.require(p.ACCOUNT_SELF_MANAGE)
def end_all_sessions():  # type: ignore[no-untyped-def]
    from cooperation.oauth.services import revoke_all_for_user

    ended = end_sessions_of(db.session, current_user.id)
    tokens = revoke_all_for_user(db.session, current_user.id, request_actor(), "sign_out_everywhere")
    record(db.session, "session.end_all", request_actor(), target_type="user", target_id=current_user.id,
           details={"sessions": ended, "api_grants": tokens})
    db.session.commit()
    logout_user()
    session.destroy()  # type: ignore[attr-defined]
    return redirect(url_for("auth.login"))
