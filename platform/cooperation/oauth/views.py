"""OAuth endpoints (device authorization, token, revocation), the verification page where a
signed-in user approves a device, revoking a token from the sessions page, and GET /api/v1/me.

The three OAuth endpoints are public and CSRF-exempt: they are form posts from a non-browser
client, carry no cookie authority, and authenticate by client id plus device code or token.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from cooperation import permissions as p
from cooperation.accounts.services import ROLE_LABELS
from cooperation.audit.context import request_actor
from cooperation.audit.service import record
from cooperation.extensions import csrf, db
from cooperation.oauth import scopes, services
from cooperation.oauth.bearer import current_access
from cooperation.oauth.forms import DecisionForm, UserCodeForm
from cooperation.oauth.models import DeviceAuthorization
from cooperation.oauth.server import CooperationAuthorizationServer
from cooperation.ops import ratelimit

bp = Blueprint("oauth", __name__)

DEVICE_KEY = "oauth_device_id"  # the authorization whose code this session entered


def _server() -> CooperationAuthorizationServer:
    return current_app.extensions["cooperation.oauth"]


def _limit(name: str, default: str) -> ratelimit.Limit:
    return ratelimit.parse_limit(current_app.config.get(name, default))


def _no_store(response):  # type: ignore[no-untyped-def]
    # RFC 6749 5.1: responses carrying tokens must not be cached.
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


# -- OAuth endpoints (public, client-authenticated) ---------------------------------------------------

@bp.post("/oauth/device_authorization")
@p.public
@csrf.exempt
def device_authorization():  # type: ignore[no-untyped-def]
    db.session.commit()  # the limiter's upsert must open the transaction (see ratelimit.hit)
    wait = ratelimit.hit(db.session, f"oauth-device:ip:{(request.remote_addr or '')[:64]}",
                         _limit("OAUTH_DEVICE_START_LIMIT", "60/hour"))
    db.session.commit()
    if wait is not None:
        response = jsonify(error="slow_down", error_description="Too many device authorizations.")
        response.status_code = 429
        response.headers["Retry-After"] = str(int(wait.total_seconds()) + 1)
        return _no_store(response)
    response = _server().create_endpoint_response("device_authorization")
    db.session.commit()
    return _no_store(response)


@bp.post("/oauth/token")
@p.public
@csrf.exempt
def token():  # type: ignore[no-untyped-def]
    response = _server().create_token_response()
    # Also on errors: the last poll time, a slower interval, a family revoked on reuse.
    db.session.commit()
    return _no_store(response)


@bp.post("/oauth/revoke")
@p.public
@csrf.exempt
def revoke():  # type: ignore[no-untyped-def]
    response = _server().create_endpoint_response("revocation")
    db.session.commit()
    return _no_store(response)


# -- verification page (the user, fully signed in, in a browser) ----------------------------------------

def _scope_words(names: list[str]) -> list[str]:
    return [str(scopes.SCOPES[n].description) for n in names]


@bp.route("/device", methods=["GET", "POST"])
@p.require(p.ACCOUNT_SELF_MANAGE)
def verify():  # type: ignore[no-untyped-def]
    form = UserCodeForm()
    if request.method == "GET":
        form.user_code.data = request.args.get("user_code", "")[:20]
        return render_template("oauth/verify.html", form=form)
    if not form.validate_on_submit():
        return render_template("oauth/verify.html", form=form), 400
    user_id = current_user.id
    db.session.commit()  # the limiter's upsert must open the transaction
    key = f"oauth-user-code:user:{user_id}"
    limit = _limit("OAUTH_USER_CODE_LIMIT", "10/hour")
    if services.failures_exceeded(db.session, key, limit):
        record_refusal = "throttled"
        device = None
    else:
        record_refusal = ""
        device = services.find_pending(db.session, form.user_code.data)
        if device is None:
            ratelimit.hit(db.session, key, limit)
    if device is None:
        record(db.session, "oauth.device.code_refused", request_actor(), outcome="failure",
                        target_type="user", target_id=user_id, details={"reason": record_refusal or "unknown"})
        db.session.commit()
        form.user_code.errors = [
            _("Too many wrong codes. Please wait before trying again.") if record_refusal else
            _("This code is not valid or has expired. Check it, or start again on the device.")]
        return render_template("oauth/verify.html", form=form), (429 if record_refusal else 400)
    session[DEVICE_KEY] = device.id
    db.session.commit()
    return redirect(url_for("oauth.decide"))


def _entered_device() -> DeviceAuthorization | None:
    device = db.session.get(DeviceAuthorization, session.get(DEVICE_KEY) or 0)
    if device is None or device.status.value != "pending" or device.is_expired():
        return None
    return device


@bp.route("/device/decision", methods=["GET", "POST"])
@p.require(p.ACCOUNT_SELF_MANAGE)
def decide():  # type: ignore[no-untyped-def]
    device = _entered_device()
    if device is None:
        session.pop(DEVICE_KEY, None)
        flash(_("This code has expired or was already used. Start again on the device."), "warning")
        return redirect(url_for("oauth.verify"))
    form = DecisionForm()
    review = services.review_scopes(device, current_user)
    error = None
    if form.validate_on_submit() and (form.approve.data or form.deny.data):
        approve = bool(form.approve.data)
        try:
            services.decide(db.session, device, current_user, approve, request_actor())
            db.session.commit()
        except services.OAuthError as exc:
            db.session.rollback()
            error = str(exc)
        else:
            session.pop(DEVICE_KEY, None)
            return render_template("oauth/done.html", approved=approve, client_name=device.client.name,
                                   granted=_scope_words(review.granted))
    elif request.method == "POST":
        error = _("Choose whether to allow or deny access.")
    return render_template("oauth/decide.html", form=form, client_name=device.client.name,
                           granted=_scope_words(review.granted), refused=_scope_words(review.refused),
                           error=error), (400 if request.method == "POST" else 200)


# -- the user's API tokens (listed on the sessions page) ------------------------------------------------

@bp.post("/account/api-tokens/<int:grant_id>/revoke")
@p.require(p.ACCOUNT_SELF_MANAGE)
def revoke_grant(grant_id: int):  # type: ignore[no-untyped-def]
    grant = services.grant_of_user(db.session, grant_id, current_user.id)
    if grant is None or grant.revoked_at is not None:
        abort(404)
    services.revoke_grant(db.session, grant, request_actor(), "user")
    db.session.commit()
    flash(_("Access for %(client)s was revoked.", client=grant.client.name), "success")
    return redirect(url_for("accounts.sessions"))


# -- the API ------------------------------------------------------------------------------------------------

@bp.get("/api/v1/me")
@p.require(p.ACCOUNT_SELF_MANAGE)
def me():  # type: ignore[no-untyped-def]
    access = current_access()
    return jsonify(id=current_user.id, party=current_user.party.code, role=current_user.role.value,
                   role_label=str(ROLE_LABELS[current_user.role]),
                   scopes=list(access.scopes) if access is not None else None)
