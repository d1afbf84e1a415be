"""Travel report pages. The server renders the routing record (who sent, who received, who read,
the Court's acknowledgement and the outcome) and the shells in which the browser encrypts and
decrypts the report itself (static/). Whatever a user may not see answers 404."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from cooperation import permissions as p
from cooperation.accounts.models import User
from cooperation.audit.context import request_actor
from cooperation.audit.service import Actor
from cooperation.extensions import db
from cooperation.threads.views import HANDLING
from cooperation_travel import alerts, services
from cooperation_travel.forms import (
    OUTCOME_LABELS,
    RECIPIENT_LABELS,
    TRAVEL_KINDS,
    AcknowledgeForm,
    OutcomeForm,
    ReportForm,
    choices,
)
from cooperation_travel.models import Outcome, Report
from cooperation_travel.permissions import REPORTS_HANDLE, REPORTS_READ, REPORTS_SEND

bp = Blueprint("travel", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")

_HEX32 = re.compile(r"\A[0-9a-f]{32}\Z")


@bp.context_processor
def _labels() -> dict[str, object]:
    return {"outcome_labels": OUTCOME_LABELS, "recipient_labels": RECIPIENT_LABELS}


def _user() -> User:
    return current_user._get_current_object()  # type: ignore[attr-defined,no-any-return]


def _locale() -> str:
    return str(get_locale() or "en")


def _readable(report_id: int) -> Report:
    try:
        return services.readable_report(db.session, _user(), report_id)
    except services.NotFound:
        abort(404)


def _shell(template: str, **context: Any) -> str:
    """The encrypted-thread shell (threads/_layout.html) needs the user and his or her party."""
    me = _user()
    return render_template(template, me=me, my_party=me.party.code, locale=_locale(), **context)


# -- list ------------------------------------------------------------------------------------------

@bp.get("/")
@p.require(REPORTS_READ)
def index():  # type: ignore[no-untyped-def]
    me = _user()
    reports = services.visible_reports(db.session, me)
    return render_template("travel/index.html", reports=reports, locale=_locale(),
                           sees_all=services.sees_all(me), can_send=p.has_permission(REPORTS_SEND))


# -- sending -----------------------------------------------------------------------------------------

@bp.get("/new")
@p.require(REPORTS_SEND)
def new():  # type: ignore[no-untyped-def]
    me = _user()
    plan = services.plan(db.session, me)
    form = ReportForm()
    form.kind.choices = choices(TRAVEL_KINDS, _("Choose"))
    form.handling.choices = choices(HANDLING)
    form.handling.data = "participants-only"
    page = _shell("travel/new.html", form=form, plan=plan, ready=plan.reachable_court_users > 0,
                  directory=services.plugin_enabled("directory"), travel_kinds=TRAVEL_KINDS)
    db.session.commit()
    return page


@bp.post("/reports")
@p.require(REPORTS_SEND)
def send():  # type: ignore[no-untyped-def]
    """Called by the reporter's browser once the encrypted thread holds the report (JSON
    {thread_id}, CSRF in X-CSRFToken). Records it, then alerts the recipients at once."""
    data = request.get_json(silent=True)
    thread_id = data.get("thread_id") if isinstance(data, dict) else None
    if not isinstance(thread_id, str) or not _HEX32.match(thread_id):
        return jsonify(error=_("Send the encrypted thread's id.")), 400
    me = _user()
    try:
        report = services.register(db.session, me, thread_id, request_actor())
        channels = services.urgent_channels(db.session, report)
        db.session.commit()
    except services.Invalid as exc:
        db.session.rollback()
        return jsonify(error=exc.message), 400
    # After the commit: the report is safe whatever the mail server does.
    sent = alerts.alert(report, channels)
    services.record_alerts(db.session, report, sent.users, channels, sent.channels, sent.failed, request_actor())
    db.session.commit()
    return jsonify(id=report.id, reference=report.reference, url=url_for("travel.report", report_id=report.id),
                   alerted=len(sent.users), urgent_channels=sent.channels), 201


# -- one report --------------------------------------------------------------------------------------

def _render_report(report: Report, outcome_form: OutcomeForm | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    me = _user()
    handles = p.has_permission(REPORTS_HANDLE) and services.is_court_user(me)
    member = services.is_member(db.session, report, me)
    members = services.member_ids(db.session, report)
    if outcome_form is None:
        outcome_form = OutcomeForm()
        if report.outcome is not None:
            outcome_form.outcome.data = report.outcome.value
    mine = services.recipient(report, me)
    page = _shell("travel/report.html", report=report, member=member, members=members, handles=handles,
                  recipient=mine, ack_form=AcknowledgeForm(), outcome_form=outcome_form, handling=HANDLING,
                  directory=services.plugin_enabled("directory"))
    db.session.commit()
    return page, status


@bp.get("/reports/<int:report_id>")
@p.require(REPORTS_READ)
def report(report_id: int):  # type: ignore[no-untyped-def]
    return _render_report(_readable(report_id))


@bp.post("/reports/<int:report_id>/read")
@p.require(REPORTS_READ)
def read(report_id: int):  # type: ignore[no-untyped-def]
    """Posted by the report page's script once this browser has verified and decrypted the
    report; records the recipient's first reading (nothing for the reporting State's users)."""
    found = _readable(report_id)
    recorded = services.mark_read(db.session, found, _user(), request_actor())
    mine = services.recipient(found, _user())
    first = mine.first_read_at.isoformat() if mine and mine.first_read_at else None
    db.session.commit()
    return jsonify(recorded=recorded, first_read_at=first)


@bp.post("/reports/<int:report_id>/acknowledge")
@p.require(REPORTS_HANDLE)
def acknowledge(report_id: int):  # type: ignore[no-untyped-def]
    found = _readable(report_id)
    form = AcknowledgeForm()
    if not form.validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return _render_report(found, status=400)
    try:
        done = services.acknowledge(db.session, found, _user(), request_actor())
        db.session.commit()
    except services.NotFound:
        db.session.rollback()
        abort(404)
    except services.Invalid as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _render_report(found, status=400)
    if done:
        mailed = alerts.acknowledged(found)
        flash(_("Receipt acknowledged. The reporter was told by mail.") if mailed
              else _("Receipt acknowledged. The mail to the reporter could not be sent."), "success")
    else:
        flash(_("Receipt had been acknowledged already."), "success")
    return redirect(url_for("travel.report", report_id=found.id))


@bp.post("/reports/<int:report_id>/outcome")
@p.require(REPORTS_HANDLE)
def outcome(report_id: int):  # type: ignore[no-untyped-def]
    found = _readable(report_id)
    form = OutcomeForm()
    if not form.validate_on_submit():
        return _render_report(found, form, 400)
    actor: Actor = request_actor()
    try:
        changed = services.record_outcome(db.session, found, _user(), Outcome(form.outcome.data), actor)
        db.session.commit()
    except services.NotFound:
        db.session.rollback()
        abort(404)
    except services.Invalid as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _render_report(found, form, 400)
    flash(_("The outcome was recorded. Write its details in the report's encrypted thread.") if changed
          else _("Nothing was changed."), "success")
    return redirect(url_for("travel.report", report_id=found.id))
