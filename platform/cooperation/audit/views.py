"""The Secretariat reads, filters and exports the audit log (CSV)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime, time

from flask import Blueprint, Response, render_template, request, stream_with_context
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import Select, select
from sqlalchemy.orm import Session
from wtforms import DateField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional

from cooperation import permissions as p
from cooperation.audit import service
from cooperation.audit.context import request_actor
from cooperation.audit.models import AuditEvent
from cooperation.extensions import db
from cooperation.spreadsheets import neutralise

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")
PAGE_SIZE = 50


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form changes nothing

    action = StringField(_l("Action"), validators=[Optional(), Length(max=80)])
    actor = StringField(_l("Actor (e-mail)"), validators=[Optional(), Length(max=254)])
    party = StringField(_l("State or organisation code"), validators=[Optional(), Length(max=16)])
    outcome = SelectField(_l("Outcome"), choices=[SelectChoice("", _l("Any")),
                                                  SelectChoice("success", _l("Success")),
                                                  SelectChoice("failure", _l("Failure"))],
                          validators=[Optional()])
    since = DateField(_l("From (date)"), validators=[Optional()])
    until = DateField(_l("To (date)"), validators=[Optional()])


def _filtered(form: AuditFilterForm) -> Select[tuple[AuditEvent]]:
    stmt = select(AuditEvent)
    if form.action.data:
        stmt = stmt.where(AuditEvent.action.startswith(form.action.data.strip(), autoescape=True))
    if form.actor.data:
        stmt = stmt.where(AuditEvent.actor_label == form.actor.data.strip().lower())
    if form.party.data:
        stmt = stmt.where(AuditEvent.party_code == form.party.data.strip().upper())
    if form.outcome.data:
        stmt = stmt.where(AuditEvent.outcome == form.outcome.data)
    if form.since.data:
        stmt = stmt.where(AuditEvent.created_at >= datetime.combine(form.since.data, time.min, UTC))
    if form.until.data:
        stmt = stmt.where(AuditEvent.created_at <= datetime.combine(form.until.data, time.max, UTC))
    return stmt


@bp.get("/")
@p.require(p.AUDIT_READ)
def index():  # type: ignore[no-untyped-def]
    form = AuditFilterForm(request.args)
    valid = form.validate()
    before = request.args.get("before", type=int)
    events: list[AuditEvent] = []
    if valid:
        stmt = _filtered(form).order_by(AuditEvent.seq.desc()).limit(PAGE_SIZE)
        if before:
            stmt = stmt.where(AuditEvent.seq < before)
        events = list(db.session.scalars(stmt))
    args = {k: v for k, v in request.args.items() if k != "before"}
    return render_template("audit/index.html", form=form, events=events, page_args=args,
                           next_before=events[-1].seq if len(events) == PAGE_SIZE else None)


@bp.get("/export.csv")
@p.require(p.AUDIT_READ)
def export_csv():  # type: ignore[no-untyped-def]
    form = AuditFilterForm(request.args)
    if not form.validate():
        from cooperation.errors import render_error

        return render_error(400)
    stmt = _filtered(form).order_by(AuditEvent.seq)
    service.record(db.session, "audit.export", request_actor(),
                   details={k: v for k, v in request.args.items() if v and k in form._fields})
    db.session.commit()

    def rows() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["seq", "created_at_utc", "action", "outcome", "actor", "party", "ip_address",
                         "target_type", "target_id", "details", "prev_hash", "entry_hash"])
        # A session of its own: the body is streamed after the request's session was closed
        # (the session interface closes it before saving), which on PostgreSQL ends the
        # transaction holding the server-side cursor ("cursor does not exist").
        with Session(db.engine) as export_session:
            for e in export_session.scalars(stmt.execution_options(yield_per=1000)):
                writer.writerow([e.seq, e.created_at.isoformat(), *map(neutralise, (
                    e.action, e.outcome, e.actor_label, e.party_code, e.ip_address, e.target_type,
                    e.target_id, e.details)), e.prev_hash, e.entry_hash])
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Response(stream_with_context(rows()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'})
