"""Non-cooperation pages. Every member opens the list (public summaries once released); the
Secretariat, the Court and the designated Bureau focal points see the confidential case files;
the Secretariat keeps them. Whatever is not visible to a user answers 404."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from cooperation import permissions as p
from cooperation.accounts.models import User
from cooperation.audit.context import request_actor
from cooperation.audit.service import record
from cooperation.db import utcnow
from cooperation.extensions import db
from cooperation.membership.models import RegionalGroup
from cooperation.membership.services import GROUP_LABELS
from cooperation.refusals import saving
from cooperation_noncooperation import deadlines as d
from cooperation_noncooperation import export, services
from cooperation_noncooperation.forms import (
    CONDUCTED_BY_LABELS,
    DONE_LABELS,
    FLAG_LABELS,
    OWNER_LABELS,
    REASON_LABELS,
    SCENARIO_LABELS,
    STATUS_LABELS,
    STEP_LABELS,
    CaseForm,
    DesignateForm,
    EndDesignationForm,
    FilterForm,
    InteractionForm,
    RemoveSessionForm,
    SessionForm,
    StepForm,
    SummaryForm,
)
from cooperation_noncooperation.models import Case, CaseStatus, ConductedBy, OwnerBody
from cooperation_noncooperation.permissions import (
    CASES_MANAGE,
    CASES_READ,
    FOCAL_POINTS_MANAGE,
    INTERACTIONS_RECORD,
)

bp = Blueprint("noncooperation", __name__, template_folder="templates")


@bp.context_processor
def _labels() -> dict[str, object]:
    return {"scenario_labels": SCENARIO_LABELS, "status_labels": STATUS_LABELS, "step_labels": STEP_LABELS,
            "done_labels": DONE_LABELS, "owner_labels": OWNER_LABELS, "flag_labels": FLAG_LABELS,
            "reason_labels": REASON_LABELS, "conducted_by_labels": CONDUCTED_BY_LABELS,
            "group_labels": GROUP_LABELS, "Flag": d.Flag, "StepKind": d.StepKind}


def _user() -> User:
    return current_user._get_current_object()  # type: ignore[attr-defined,no-any-return]


def _locale() -> str:
    return str(get_locale() or "en")


def _today() -> date:
    return utcnow().date()


def _confidential(case_id: int) -> Case:
    try:
        return services.confidential_case(db.session, _user(), case_id)
    except services.NotFound:
        abort(404)


# -- reading ---------------------------------------------------------------------------------------

@bp.get("/")
@p.require(CASES_READ)
def index():  # type: ignore[no-untyped-def]
    form = FilterForm(request.args)
    if not form.validate():
        return render_template("noncooperation/index.html", form=form, rows=[], confidential=False), 400
    status = CaseStatus(form.status.data) if form.status.data else None
    confidential = services.sees_confidential(db.session, _user())
    sessions = services.session_dates(services.assembly_sessions(db.session))
    today = _today()
    rows = [services.summarise(c, sessions, today) for c in services.visible_cases(db.session, _user(), status)]
    return render_template("noncooperation/index.html", form=form, rows=rows, confidential=confidential,
                           focal_point=services.active_designation(db.session, _user()),
                           can_manage=p.has_permission(CASES_MANAGE),
                           can_designate=p.has_permission(FOCAL_POINTS_MANAGE),
                           export_args={k: v for k, v in request.args.items() if v})


@bp.get("/export.csv")
@p.require(CASES_READ)
def export_csv():  # type: ignore[no-untyped-def]
    form = FilterForm(request.args)
    if not form.validate():
        from cooperation.errors import render_error

        return render_error(400)
    status = CaseStatus(form.status.data) if form.status.data else None
    confidential = services.sees_confidential(db.session, _user())
    cases = services.visible_cases(db.session, _user(), status)
    sessions = services.session_dates(services.assembly_sessions(db.session))
    body = "".join(export.rows(cases, confidential=confidential, locale=_locale(), sessions=sessions,
                               today=_today()))
    record(db.session, "noncooperation.case.export", request_actor(), target_type="noncooperation",
           details={"count": len(cases), "confidential": confidential,
                    "status": status.value if status else ""})
    db.session.commit()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="non-cooperation-{stamp}.csv"',
        "Cache-Control": "no-store"})


@bp.get("/cases/<int:case_id>")
@p.require(CASES_READ)
def case(case_id: int):  # type: ignore[no-untyped-def]
    try:
        found, full = services.readable_case(db.session, _user(), case_id)
    except services.NotFound:
        abort(404)
    if not full:
        return render_template("noncooperation/public.html", case=found, locale=_locale())
    today = _today()
    stored_sessions = services.assembly_sessions(db.session)
    timings = services.schedule_for(found, services.session_dates(stored_sessions), today)
    facts = services.facts_for(found, ())
    steps = [(step, timings[step.kind]) for step in sorted(found.steps, key=lambda s: d.STEP_ORDER.index(s.kind))]
    target = next((t.session for t in timings.values() if t.session is not None), None)
    return render_template(
        "noncooperation/case.html", case=found, steps=steps, locale=_locale(), today=today,
        response_deadline=facts.effective_response_deadline(),
        latest_deadline=d.latest_response_deadline(facts.letter_sent) if facts.letter_sent else None,
        target_session=services.session_named(stored_sessions, target),
        report_due={i.id: d.oral_report_due(i.occurred_on) for i in found.interactions},
        report_overdue={i.id: d.oral_report_overdue(i.occurred_on, i.reported_to_bureau_on, today)
                        for i in found.interactions},
        can_manage=p.has_permission(CASES_MANAGE), can_record=services.can_record(db.session, _user()))


# -- case files ------------------------------------------------------------------------------------

def _case_form(obj: Case | None = None) -> CaseForm:
    form = CaseForm(obj=obj) if obj is not None else CaseForm()
    form.requested_state.choices = [SelectChoice("", _("Choose a State")),
                                    *(SelectChoice(str(s.id), s.name(_locale()))
                                      for s in services.states(db.session))]
    if obj is not None and request.method == "GET":
        form.requested_state.data = str(obj.requested_party_id)
        form.scenario.data = obj.scenario.value
        form.status.data = obj.status.value
    return form


def _case_data(form: CaseForm) -> services.CaseData:
    return services.CaseData(
        requested_party_id=int(form.requested_state.data), scenario=d.Scenario(form.scenario.data),
        situation=form.situation.data or "", decision_reference=form.decision_reference.data or "",
        decision_date=form.decision_date.data, urgent_information=form.urgent_information.data or "",
        status=CaseStatus(form.status.data or CaseStatus.OPEN.value))


@bp.route("/cases/new", methods=["GET", "POST"])
@p.require(CASES_MANAGE)
def create():  # type: ignore[no-untyped-def]
    form = _case_form()
    if form.validate_on_submit():
        with saving(form) as attempt:
            found = services.open_case(db.session, _case_data(form), _user(), request_actor(), _today())
        if attempt.saved:
            flash(_("The case file %(ref)s was opened. It stays confidential until you release a "
                    "public summary.", ref=found.reference), "success")
            return redirect(url_for("noncooperation.case", case_id=found.id))
    return render_template("noncooperation/case_form.html", form=form, case=None), \
        (400 if request.method == "POST" else 200)


@bp.route("/cases/<int:case_id>/edit", methods=["GET", "POST"])
@p.require(CASES_MANAGE)
def edit(case_id: int):  # type: ignore[no-untyped-def]
    found = _confidential(case_id)
    form = _case_form(found)
    if form.validate_on_submit():
        with saving(form) as attempt:
            changed = services.update_case(db.session, found, _case_data(form), _user(), request_actor(), _today())
        if attempt.saved:
            flash(_("The case file was updated.") if changed else _("Nothing was changed."), "success")
            return redirect(url_for("noncooperation.case", case_id=case_id))
    return render_template("noncooperation/case_form.html", form=form, case=found), \
        (400 if request.method == "POST" else 200)


@bp.route("/cases/<int:case_id>/summary", methods=["GET", "POST"])
@p.require(CASES_MANAGE)
def summary(case_id: int):  # type: ignore[no-untyped-def]
    found = _confidential(case_id)
    form = SummaryForm()
    if request.method == "GET":
        form.summary.data = found.public_summary
        form.released.data = found.is_released
    if form.validate_on_submit():
        with saving(form) as attempt:
            outcome = services.save_summary(db.session, found, form.summary.data or "", bool(form.released.data),
                                            _user(), request_actor())
        if attempt.saved:
            messages = {"released": _("The public summary was released to all members."),
                        "withdrawn": _("The public summary was withdrawn: the case file is confidential again."),
                        "saved": _("The public summary was saved."), "": _("Nothing was changed.")}
            flash(messages[outcome], "success")
            return redirect(url_for("noncooperation.case", case_id=case_id))
    return render_template("noncooperation/summary.html", form=form, case=found), \
        (400 if request.method == "POST" else 200)


# -- steps -------------------------------------------------------------------------------------------

@bp.route("/cases/<int:case_id>/steps/<int:step_id>", methods=["GET", "POST"])
@p.require(CASES_MANAGE)
def step(case_id: int, step_id: int):  # type: ignore[no-untyped-def]
    found = _confidential(case_id)
    try:
        item = services.case_step(found, step_id)
    except services.NotFound:
        abort(404)
    form = StepForm(obj=item)
    form.owner_user.choices = [SelectChoice("", _("Nobody yet")),
                               *(SelectChoice(str(u.id), f"{u.full_name} ({u.party.name(_locale())})")
                                 for u in services.eligible_owners(db.session))]
    form.completed_on.label.text = str(DONE_LABELS[item.kind])
    if request.method == "GET":
        form.owner_body.data = item.owner_body.value
        form.owner_user.data = str(item.owner_user_id) if item.owner_user_id else ""
        form.response_deadline.data = found.response_deadline
        form.response_received_on.data = found.response_received_on
    if form.validate_on_submit():
        is_letter = item.kind == d.StepKind.OPEN_LETTER
        data = services.StepData(
            owner_body=OwnerBody(form.owner_body.data),
            owner_user_id=int(form.owner_user.data) if form.owner_user.data else None,
            planned_on=form.planned_on.data, completed_on=form.completed_on.data,
            not_applicable=bool(form.not_applicable.data), notes=form.notes.data or "",
            response_deadline=form.response_deadline.data if is_letter else found.response_deadline,
            response_received_on=form.response_received_on.data if is_letter else found.response_received_on)
        with saving(form) as attempt:
            changed = services.update_step(db.session, found, item, data, _user(), request_actor(), _today())
        if attempt.saved:
            flash(_("The step was updated.") if changed else _("Nothing was changed."), "success")
            return redirect(url_for("noncooperation.case", case_id=case_id, _anchor=f"step-{item.kind.value}"))
    return render_template("noncooperation/step.html", form=form, case=found, step=item,
                           latest_deadline=(d.latest_response_deadline(item.completed_on)
                                            if item.kind == d.StepKind.OPEN_LETTER and item.completed_on
                                            else None)), \
        (400 if request.method == "POST" else 200)


# -- good offices ------------------------------------------------------------------------------------

def _recordable(case_id: int) -> Case:
    found = _confidential(case_id)
    if not services.can_record(db.session, _user()):
        abort(404)
    return found


def _interaction_data(form: InteractionForm) -> services.InteractionData:
    return services.InteractionData(
        occurred_on=form.occurred_on.data, conducted_by=ConductedBy(form.conducted_by.data),
        counterpart=form.counterpart.data or "", summary=form.summary.data or "",
        participants=form.participants.data or "",
        regional_group=RegionalGroup(form.regional_group.data) if form.regional_group.data else None,
        reported_to_bureau_on=form.reported_to_bureau_on.data)


@bp.route("/cases/<int:case_id>/interactions/new", methods=["GET", "POST"])
@p.require(INTERACTIONS_RECORD)
def record_interaction(case_id: int):  # type: ignore[no-untyped-def]
    found = _recordable(case_id)
    form = InteractionForm()
    if request.method == "GET":
        designation = services.active_designation(db.session, _user())
        if designation is not None:
            form.conducted_by.data = ConductedBy.FOCAL_POINT.value
            form.regional_group.data = designation.regional_group.value
    if form.validate_on_submit():
        with saving(form, not_found=(services.NotFound,)) as attempt:
            services.record_interaction(db.session, found, _interaction_data(form), _user(), request_actor(),
                                        _today())
        if attempt.saved:
            flash(_("The interaction was recorded."), "success")
            return redirect(url_for("noncooperation.case", case_id=case_id, _anchor="good-offices"))
    return render_template("noncooperation/interaction.html", form=form, case=found, interaction=None), \
        (400 if request.method == "POST" else 200)


@bp.route("/cases/<int:case_id>/interactions/<int:interaction_id>", methods=["GET", "POST"])
@p.require(INTERACTIONS_RECORD)
def edit_interaction(case_id: int, interaction_id: int):  # type: ignore[no-untyped-def]
    found = _recordable(case_id)
    try:
        interaction = services.case_interaction(found, interaction_id)
    except services.NotFound:
        abort(404)
    form = InteractionForm(obj=interaction)
    if request.method == "GET":
        form.conducted_by.data = interaction.conducted_by.value
        form.regional_group.data = interaction.regional_group.value if interaction.regional_group else ""
    if form.validate_on_submit():
        with saving(form, not_found=(services.NotFound,)) as attempt:
            changed = services.update_interaction(db.session, found, interaction, _interaction_data(form), _user(),
                                                  request_actor(), _today())
        if attempt.saved:
            flash(_("The interaction was updated.") if changed else _("Nothing was changed."), "success")
            return redirect(url_for("noncooperation.case", case_id=case_id, _anchor="good-offices"))
    return render_template("noncooperation/interaction.html", form=form, case=found, interaction=interaction,
                           report_due=d.oral_report_due(interaction.occurred_on)), \
        (400 if request.method == "POST" else 200)


# -- focal points ------------------------------------------------------------------------------------

def _designate_form() -> DesignateForm:
    form = DesignateForm()
    form.user.choices = [SelectChoice("", _("Choose a person")),
                         *(SelectChoice(str(u.id), f"{u.full_name} · {u.party.name(_locale())} · {u.email}")
                           for u in services.designable_users(db.session))]
    return form


def _render_focal_points(form: DesignateForm, status: int = 200):  # type: ignore[no-untyped-def]
    return render_template("noncooperation/focal_points.html", form=form,
                           designations=services.designations(db.session), locale=_locale()), status


@bp.route("/focal-points", methods=["GET", "POST"])
@p.require(FOCAL_POINTS_MANAGE)
def focal_points():  # type: ignore[no-untyped-def]
    form = _designate_form()
    if form.validate_on_submit():
        with saving(form) as attempt:
            services.designate(db.session, int(form.user.data), RegionalGroup(form.regional_group.data), _user(),
                               request_actor())
        if not attempt.saved:
            return _render_focal_points(form, 400)
        flash(_("The focal point was designated. He or she now sees the confidential case files."), "success")
        return redirect(url_for("noncooperation.focal_points"))
    return _render_focal_points(form, 400 if request.method == "POST" else 200)


@bp.post("/focal-points/end")
@p.require(FOCAL_POINTS_MANAGE)
def end_focal_point():  # type: ignore[no-untyped-def]
    form = EndDesignationForm()
    if not form.validate_on_submit() or not (form.designation.data or "").isdigit():
        flash(_("Choose a designation to end."), "error")
        return _render_focal_points(_designate_form(), 400)
    try:
        services.end_designation(db.session, int(form.designation.data), _user(), request_actor())
        db.session.commit()
    except services.Invalid as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _render_focal_points(_designate_form(), 400)
    flash(_("The designation was ended."), "success")
    return redirect(url_for("noncooperation.focal_points"))


# -- Assembly sessions -------------------------------------------------------------------------------

def _render_sessions(form: SessionForm, status: int = 200):  # type: ignore[no-untyped-def]
    return render_template("noncooperation/sessions.html", form=form,
                           sessions=services.assembly_sessions(db.session)), status


@bp.route("/sessions", methods=["GET", "POST"])
@p.require(CASES_MANAGE)
def sessions():  # type: ignore[no-untyped-def]
    form = SessionForm()
    if form.validate_on_submit():
        with saving(form) as attempt:
            services.add_session(db.session, form.label.data or "", form.opens_on.data, form.closes_on.data,
                                 form.place.data or "", request_actor())
        if not attempt.saved:
            return _render_sessions(form, 400)
        flash(_("The session was added."), "success")
        return redirect(url_for("noncooperation.sessions"))
    return _render_sessions(form, 400 if request.method == "POST" else 200)


@bp.post("/sessions/remove")
@p.require(CASES_MANAGE)
def remove_session():  # type: ignore[no-untyped-def]
    form = RemoveSessionForm()
    if not form.validate_on_submit() or not (form.session.data or "").isdigit():
        flash(_("Choose a session to remove."), "error")
        return _render_sessions(SessionForm(formdata=None), 400)
    try:
        services.remove_session(db.session, int(form.session.data), request_actor())
        db.session.commit()
    except services.Invalid as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _render_sessions(SessionForm(formdata=None), 400)
    flash(_("The session was removed."), "success")
    return redirect(url_for("noncooperation.sessions"))
