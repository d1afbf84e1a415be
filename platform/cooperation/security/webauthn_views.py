"""WebAuthn registration (password re-entry, then the key) and sign-in endpoints (JSON,
CSRF-protected through the X-CSRFToken header), key removal (HTML form, password re-entry), and
the gate that keeps a Secretariat administrator without a key on the security page."""

from __future__ import annotations

import time
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from werkzeug.datastructures import MultiDict

from cooperation import permissions as p
from cooperation.accounts.forms import ReauthForm
from cooperation.accounts.views import _reauthenticated  # one re-authentication for every factor
from cooperation.audit.context import request_actor
from cooperation.auth import services as auth_services
from cooperation.auth.views import PENDING_KEY, finish_login, pending_user
from cooperation.extensions import db
from cooperation.security import recovery
from cooperation.security import webauthn as webauthn_mfa

bp = Blueprint("webauthn", __name__, url_prefix="/webauthn")

CHALLENGE_KEY = "webauthn_challenge"
CHALLENGE_SECONDS = 180  # a little longer than the browser's ceremony timeout

Reply = tuple[Any, int]


def _ip() -> str:
    return (request.remote_addr or "")[:64]


def _rp() -> webauthn_mfa.RelyingParty:
    s = current_app.config["COOPERATION_SETTINGS"]
    return webauthn_mfa.relying_party(s.webauthn_rp_id, s.webauthn_rp_name, s.webauthn_origin, request.host_url)


def _error(message: str, status: int = 400, **extra: str) -> Reply:
    return jsonify(error=message, **extra), status


# -- the challenge lives in the server-side session, single use and short-lived ----------------

def _remember(purpose: str, user_id: int, challenge: bytes) -> None:
    session[CHALLENGE_KEY] = {"purpose": purpose, "user_id": user_id,
                              "challenge": bytes_to_base64url(challenge),
                              "expires": time.time() + CHALLENGE_SECONDS}


def _take(purpose: str, user_id: int) -> bytes | None:
    """The pending challenge for this ceremony and user, removed whatever the outcome."""
    kept = session.pop(CHALLENGE_KEY, None)
    if (not isinstance(kept, dict) or kept.get("purpose") != purpose or kept.get("user_id") != user_id
            or time.time() > kept.get("expires", 0)):
        return None
    return base64url_to_bytes(kept["challenge"])


def _expired() -> Reply:
    return _error(_("The request expired. Please try again."))


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


# -- registration (signed-in users) -------------------------------------------------------------

def _reauth_form(data: dict[str, Any]) -> ReauthForm:
    """The password from the JSON body, as a form (anything but a string counts as missing)."""
    current = data.get("current")
    return ReauthForm(formdata=MultiDict({"current": current if isinstance(current, str) else ""}))


@bp.post("/register")
@p.require(p.ACCOUNT_SELF_MANAGE)
def register_without_script():  # type: ignore[no-untyped-def]
    """Where the registration form goes when the browser runs no JavaScript: the ceremony needs
    the browser's WebAuthn API, so say so (the form posts, so nothing lands in the URL)."""
    return _security_page(_("JavaScript is required to register a security key or passkey. "
                            "Turn it on in your browser and try again."))


@bp.post("/register/options")
@p.require(p.ACCOUNT_SELF_MANAGE)
def register_options():  # type: ignore[no-untyped-def]
    # A challenge from an earlier request must not survive a refused re-authentication.
    session.pop(CHALLENGE_KEY, None)
    # ASVS 7.5.1: the password again before a factor is added, as for removal (audited,
    # throttled). The challenge is only issued after it, and verify needs the challenge.
    form = _reauth_form(_body())
    if not _reauthenticated(form):
        return _error(form.current.errors[0] if form.current.errors else _("Enter your current password."),
                      field="current")
    handle = webauthn_mfa.user_handle(current_user, current_app.config["SECRET_KEY"])
    options, challenge = webauthn_mfa.registration_options(db.session, current_user, _rp(), handle)
    _remember("register", current_user.id, challenge)
    return jsonify(options)


@bp.post("/register/verify")
@p.require(p.ACCOUNT_SELF_MANAGE)
def register_verify():  # type: ignore[no-untyped-def]
    data = _body()
    challenge = _take("register", current_user.id)
    if challenge is None:
        return _expired()
    try:
        key = webauthn_mfa.register(db.session, current_user, _rp(), data.get("credential"), data.get("name"),
                                    challenge, request_actor())
        db.session.commit()
    except webauthn_mfa.WebAuthnError as failed:
        db.session.rollback()
        return _error(str(failed))
    message = _("The security key “%(name)s” was registered.", name=key.name)
    flash(message, "success")
    return jsonify(message=message, redirect=url_for("accounts.security"))


# -- sign-in second factor (between the password step and the session) ------------------------

@bp.post("/login/options")
@p.public
def login_options():  # type: ignore[no-untyped-def]
    user = pending_user()
    if user is None or not webauthn_mfa.has_credentials(db.session, user):
        abort(404)
    options, challenge = webauthn_mfa.authentication_options(db.session, user, _rp())
    _remember("login", user.id, challenge)
    return jsonify(options)


@bp.post("/login/verify")
@p.public
def login_verify():  # type: ignore[no-untyped-def]
    user = pending_user()
    if user is None:
        session.pop(PENDING_KEY, None)
        session.pop(CHALLENGE_KEY, None)
        flash(_("Please sign in again."), "warning")
        return _error(_("Please sign in again."), redirect=url_for("auth.login"))
    challenge = _take("login", user.id)
    if challenge is None:
        return _expired()
    try:
        auth_services.check_webauthn(db.session, user, _rp(), _body().get("credential"), challenge, _ip())
    except auth_services.LoginRefused as refused:
        db.session.commit()  # keep the failure count and the audit entries
        return _error(str(refused))
    finish_login(user, "webauthn")  # records the sign-in, saves the new counter, commits
    return jsonify(redirect=url_for("dashboard.index"))


# -- removal ------------------------------------------------------------------------------------

@bp.post("/keys/<int:credential_id>/remove")
@p.require(p.ACCOUNT_SELF_MANAGE)
def remove(credential_id: int):  # type: ignore[no-untyped-def]
    key = webauthn_mfa.find_own(db.session, current_user, credential_id)
    if key is None:
        abort(404)  # someone else's key, or none: the same answer
    form = ReauthForm()
    # The same re-authentication as for the other factors (audited, throttled).
    if not _reauthenticated(form):
        return _security_page(form.current.errors[0] if form.current.errors
                              else _("Enter your current password."))
    try:
        webauthn_mfa.remove(db.session, current_user, key, request_actor(),
                            keep_one=auth_services.webauthn_required(current_user))
        db.session.commit()
    except webauthn_mfa.WebAuthnError as failed:
        db.session.rollback()
        return _security_page(str(failed))
    flash(_("The security key was removed."), "success")
    return redirect(url_for("accounts.security"))


def _security_page(error: str) -> Reply:
    return render_template("accounts/security.html", reauth=ReauthForm(formdata=None),
                           keys=webauthn_mfa.credentials_of(db.session, current_user),
                           codes_left=recovery.remaining(db.session, current_user.id),
                           webauthn_required=auth_services.webauthn_required(current_user),
                           error=error), 400


# -- administrators without a key ---------------------------------------------------------------

# Where an administrator who still has to register a key may go.
_OPEN_TO_ADMIN_WITHOUT_KEY = frozenset({"accounts.security", "accounts.show_recovery_codes", "auth.logout"})


def require_admin_key() -> Any:
    """before_request: with require_webauthn_for_admins, a Secretariat administrator without a
    key can only register one (or sign out) until they have."""
    endpoint = request.endpoint
    if (endpoint is None or endpoint in _OPEN_TO_ADMIN_WITHOUT_KEY or endpoint.startswith("webauthn.")
            or endpoint == "static" or endpoint.endswith(".static")):
        return None
    if not current_user.is_authenticated or not auth_services.webauthn_required(current_user):
        return None
    if webauthn_mfa.has_credentials(db.session, current_user):
        return None
    message = _("Administrators must register a security key before continuing.")
    if request.accept_mimetypes.best == "application/json" or request.path.startswith("/api/"):
        return _error(message, 403)
    flash(message, "warning")
    return redirect(url_for("accounts.security"))
