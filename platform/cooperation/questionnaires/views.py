"""Questionnaire pages for States: the list, answering (a plain form that also works without
JavaScript; autosave is in api.py), submitting, reopening, pre-filling, reading responses and
revisions, exports, documents and country profiles. The builder is in manage_views.py, the
analysis in analysis_views.py; all share this blueprint.

Thin views: the services decide who may see what; NotFound becomes a 404 whatever the reason."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user

from cooperation import permissions as p
from cooperation.accounts.models import User
from cooperation.audit.context import request_actor
from cooperation.audit.service import record
from cooperation.db import utcnow
from cooperation.extensions import csrf, db
from cooperation.membership.models import Party, PartyKind
from cooperation.membership.services import GROUP_LABELS
from cooperation.questionnaires import analysis, exports, files, models, responses, values
from cooperation.questionnaires.uploads import upload_csrf
from cooperation.questionnaires.forms import TYPE_LABELS, CompareForm, ConfirmForm, ConsentForm
from cooperation.questionnaires.models import Question, Questionnaire, QuestionType, ResponseStatus
from cooperation.questionnaires.text import field as loc_field

bp = Blueprint("questionnaires", __name__, url_prefix="/questionnaires")
UPLOAD_REQUEST_LIMIT = files.MAX_BYTES * 2  # a refused 20-40 MiB file still saves the rest of the form

__all__ = ["bp", "models"]


def user() -> User:
    return current_user._get_current_object()  # type: ignore[attr-defined,no-any-return]


def locale() -> str:
    return str(get_locale() or "en")


def today() -> date:
    return utcnow().date()


@bp.app_context_processor
def _helpers() -> dict[str, Any]:
    return {"loc": lambda obj, name: loc_field(obj, name, locale()),
            "type_labels": TYPE_LABELS, "status_labels": analysis.STATUS_LABELS,
            "group_labels": GROUP_LABELS, "QuestionType": QuestionType}


def _state_questionnaire(questionnaire_id: int) -> Questionnaire:
    try:
        return responses.questionnaire_for_state(db.session, questionnaire_id, user().party)
    except responses.NotFound:
        abort(404)


# == a State's list ===============================================================================

@bp.get("/")
@p.require(p.QUESTIONNAIRE_ANSWER)
def index():  # type: ignore[no-untyped-def]
    party = user().party
    items = []
    for questionnaire in responses.questionnaires_for_state(db.session, party):
        response = responses.response_of(db.session, questionnaire, party)
        status = "not_started" if response is None else (
            "submitted" if response.status == ResponseStatus.SUBMITTED else "in_progress")
        items.append((questionnaire, response, status))
    consent = ConsentForm(share_profile=responses.shares_profile(db.session, party))
    return render_template("questionnaires/index.html", items=items, consent=consent, today=today())


@bp.post("/consent")
@p.require(p.QUESTIONNAIRE_SUBMIT)
def consent():  # type: ignore[no-untyped-def]
    form = ConsentForm()
    if not form.validate_on_submit():
        abort(400)
    responses.set_profile_consent(db.session, party=user().party, share=bool(form.share_profile.data),
                                  user=user(), actor=request_actor())
    db.session.commit()
    flash(_("Your State's country profile is now shared with the other States.") if form.share_profile.data
          else _("Your State's country profile is no longer shared."), "success")
    return redirect(url_for("questionnaires.index"))


# == answering ====================================================================================

def _respond_context(questionnaire: Questionnaire, *, shown: dict[int, Any] | None = None,
                     errors: dict[int, str] | None = None,
                     conflicts: dict[int, responses.Conflict] | None = None,
                     missing: list[Question] | None = None, message: str = "") -> dict[str, Any]:
    party = user().party
    response = responses.response_of(db.session, questionnaire, party)
    answers = responses.answers_by_question(response)
    current = responses.current_values(response)
    data = {**current, **(shown or {})}
    ordered = questionnaire.ordered_questions()
    editable = questionnaire.is_open(today()) and (response is None or response.status != ResponseStatus.SUBMITTED)
    return {
        "questionnaire": questionnaire, "response": response, "answers": answers, "data": data,
        "ordered": ordered, "visible": values.visible_ids(ordered, data), "editable": editable,
        "errors": errors or {}, "conflicts": conflicts or {}, "missing": missing or [], "message": message,
        "file_names": responses.file_names(db.session, responses.file_ids_in(data)),
        "names": responses.names_of(db.session, {a.updated_by_id for a in answers.values() if a.updated_by_id}),
        "has_previous": responses.previous_response(db.session, questionnaire, party) is not None,
        "confirm": ConfirmForm(), "display": lambda q, v: values.display(q, v, locale()),
        "can_submit": p.has_permission(p.QUESTIONNAIRE_SUBMIT),
        "today": today(),
    }


def _raw_from_form(question: Question) -> Any:
    key = f"q{question.id}"
    if question.qtype == QuestionType.MULTIPLE:
        return request.form.getlist(key)
    if question.qtype == QuestionType.LEGAL_REFERENCE:
        return {part: request.form.get(f"{key}-{part}", "") for part in ("kind", "article", "title", "provision")}
    return request.form.get(key)


@bp.get("/<int:questionnaire_id>/response")
@p.require(p.QUESTIONNAIRE_ANSWER)
def respond(questionnaire_id: int):  # type: ignore[no-untyped-def]
    questionnaire = _state_questionnaire(questionnaire_id)
    return render_template("questionnaires/respond.html", **_respond_context(questionnaire))


@bp.post("/<int:questionnaire_id>/response")
@csrf.exempt
@upload_csrf(UPLOAD_REQUEST_LIMIT)
@p.require(p.QUESTIONNAIRE_ANSWER)
def save_all(questionnaire_id: int):  # type: ignore[no-untyped-def]
    """The form without JavaScript: saves every changed answer; a refused answer (or document)
    is reported next to its question and the others are still saved."""
    questionnaire = _state_questionnaire(questionnaire_id)
    party, actor = user().party, request_actor()
    response = responses.response_of(db.session, questionnaire, party)
    current = responses.current_values(response)
    errors: dict[int, str] = {}
    conflicts: dict[int, responses.Conflict] = {}
    shown: dict[int, Any] = {}
    try:
        for question in questionnaire.ordered_questions():
            version = request.form.get(f"v{question.id}", "0")
            base = int(version) if version.isdigit() else 0
            try:
                if question.qtype == QuestionType.FILE:
                    upload = request.files.get(f"q{question.id}-file")
                    if upload is not None and upload.filename:
                        responses.upload(db.session, question=question, party=party, stream=upload.stream,
                                         filename=upload.filename, base_version=base, user=user(),
                                         locale=locale(), actor=actor, today=today())
                    elif request.form.get(f"q{question.id}-remove"):
                        responses.save_answer(db.session, question=question, party=party, raw=None,
                                              base_version=base, user=user(), locale=locale(), actor=actor,
                                              today=today())
                    continue
                raw = _raw_from_form(question)
                cleaned = values.clean(question, raw)
                if cleaned == current.get(question.id) or (cleaned is None and question.id not in current):
                    continue
                responses.save_answer(db.session, question=question, party=party, raw=raw, base_version=base,
                                      user=user(), locale=locale(), actor=actor, today=today())
            except (values.AnswerError, files.FileRefused) as exc:
                errors[question.id] = str(exc)
                if question.qtype != QuestionType.FILE:
                    shown[question.id] = _raw_from_form(question)
            except responses.Conflict as conflict:
                conflicts[question.id] = conflict
                shown[question.id] = _raw_from_form(question)
    except responses.Locked as exc:
        db.session.rollback()
        return render_template("questionnaires/respond.html",
                               **_respond_context(questionnaire, message=str(exc))), 409
    finally:
        for upload in request.files.values():
            upload.close()  # large uploads are spooled to temporary files
    db.session.commit()
    if errors or conflicts:
        message = _("Some answers were not saved; see the messages next to them. Your other answers were saved.")
        return render_template("questionnaires/respond.html", **_respond_context(
            questionnaire, shown=shown, errors=errors, conflicts=conflicts, message=message)), \
            409 if conflicts and not errors else 400
    flash(_("Your answers were saved."), "success")
    return redirect(url_for("questionnaires.respond", questionnaire_id=questionnaire.id))


@bp.post("/<int:questionnaire_id>/response/submit")
@p.require(p.QUESTIONNAIRE_SUBMIT)
def submit(questionnaire_id: int):  # type: ignore[no-untyped-def]
    questionnaire = _state_questionnaire(questionnaire_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        revision = responses.submit(db.session, questionnaire=questionnaire, party=user().party, user=user(),
                                    actor=request_actor(), today=today())
        db.session.commit()
    except responses.Incomplete as exc:
        db.session.rollback()
        return render_template("questionnaires/respond.html", **_respond_context(
            questionnaire, missing=exc.missing,
            message=_("The response was not submitted: %(n)d required questions have no answer yet.",
                      n=len(exc.missing)))), 400
    except responses.Locked as exc:
        db.session.rollback()
        return render_template("questionnaires/respond.html",
                               **_respond_context(questionnaire, message=str(exc))), 409
    flash(_("Your State's response was submitted (revision %(n)d). Thank you.", n=revision.number), "success")
    return redirect(url_for("questionnaires.respond", questionnaire_id=questionnaire.id))


@bp.post("/<int:questionnaire_id>/response/reopen")
@p.require(p.QUESTIONNAIRE_SUBMIT)
def reopen(questionnaire_id: int):  # type: ignore[no-untyped-def]
    questionnaire = _state_questionnaire(questionnaire_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        responses.reopen(db.session, questionnaire=questionnaire, party=user().party, actor=request_actor(),
                         today=today())
        db.session.commit()
    except responses.Locked as exc:
        db.session.rollback()
        return render_template("questionnaires/respond.html",
                               **_respond_context(questionnaire, message=str(exc))), 409
    flash(_("The response is open for revision. The submitted version is kept."), "success")
    return redirect(url_for("questionnaires.respond", questionnaire_id=questionnaire.id))


@bp.post("/<int:questionnaire_id>/response/prefill")
@p.require(p.QUESTIONNAIRE_ANSWER)
def prefill(questionnaire_id: int):  # type: ignore[no-untyped-def]
    questionnaire = _state_questionnaire(questionnaire_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        copied = responses.prefill(db.session, questionnaire=questionnaire, party=user().party, user=user(),
                                   locale=locale(), actor=request_actor(), today=today())
        db.session.commit()
    except responses.Locked as exc:
        db.session.rollback()
        return render_template("questionnaires/respond.html",
                               **_respond_context(questionnaire, message=str(exc))), 409
    flash(_("%(n)d answers were copied from your previous response. Check them before submitting.", n=copied),
          "success")
    return redirect(url_for("questionnaires.respond", questionnaire_id=questionnaire.id))


# == reading a State's response ===================================================================

def _access(questionnaire_id: int, code: str) -> responses.Access:
    try:
        return responses.readable(db.session, user(), questionnaire_id, code)
    except responses.NotFound:
        abort(404)


@bp.get("/<int:questionnaire_id>/states/<code>")
@p.require(p.QUESTIONNAIRE_VIEW)
def view_response(questionnaire_id: int, code: str):  # type: ignore[no-untyped-def]
    access = _access(questionnaire_id, code)
    revisions = access.response.revisions if access.response else []
    number = request.args.get("revision", type=int)
    revision = None
    if number is not None or not access.draft_visible:
        revision = next((r for r in revisions if r.number == number), None) if number else \
            (revisions[-1] if revisions else None)
        if revision is None or (not access.draft_visible and revision is not revisions[-1]):
            abort(404)
        data = responses.revision_values(revision)
    else:
        data = responses.current_values(access.response)
    ordered = access.questionnaire.ordered_questions()
    record(db.session, "questionnaire.response.view", request_actor(), target_type="questionnaire",
           target_id=access.questionnaire.id, details={"party": access.party.code,
                                                       "revision": revision.number if revision else None})
    db.session.commit()
    return render_template(
        "questionnaires/response_view.html", access=access, revision=revision,
        revisions=revisions if access.draft_visible else [], data=data, ordered=ordered,
        visible=values.visible_ids(ordered, data),
        file_names=responses.file_names(db.session, responses.file_ids_in(data)),
        display=lambda q, v: values.display(q, v, locale()),
        names=responses.names_of(db.session, {r.submitted_by_id for r in revisions if r.submitted_by_id}),
        compare=CompareForm(formdata=None))


@bp.get("/<int:questionnaire_id>/states/<code>/compare")
@p.require(p.QUESTIONNAIRE_VIEW)
def compare(questionnaire_id: int, code: str):  # type: ignore[no-untyped-def]
    access = _access(questionnaire_id, code)
    if not access.draft_visible:
        abort(404)  # other States see only the latest submission, never the history
    form = CompareForm(request.args)
    history = access.response.revisions if access.response else []
    revisions = {r.number: r for r in history}
    if not form.validate() or form.a.data not in revisions or form.b.data not in revisions:
        return render_template("questionnaires/response_view.html", access=access, revision=None,
                               revisions=history, data={}, ordered=[], visible=set(),
                               file_names={}, display=lambda q, v: "", names={}, compare=form,
                               compare_error=_("Choose two revisions of this response.")), 400
    a, b = revisions[form.a.data], revisions[form.b.data]
    va, vb = responses.revision_values(a), responses.revision_values(b)
    names = responses.file_names(db.session, responses.file_ids_in(va) | responses.file_ids_in(vb))
    rows = [(q, values.display(q, va.get(q.id), locale(), names), values.display(q, vb.get(q.id), locale(), names),
             va.get(q.id) != vb.get(q.id)) for q in access.questionnaire.ordered_questions()]
    return render_template("questionnaires/compare.html", access=access, a=a, b=b, rows=rows,
                           changed=sum(1 for r in rows if r[3]))


# == exports ======================================================================================

def _export_rows(questionnaire_id: int) -> tuple[Questionnaire, list[exports.ExportRow], dict[int, str]]:
    """Analysts: every State's latest submission. A State: its own response as it is now."""
    if responses.is_analyst(user()):
        questionnaire = analysis.load(db.session, questionnaire_id)
        if questionnaire is None:
            abort(404)
        statuses = analysis.response_statuses(db.session, questionnaire)
        submitted = {s.party.id: s for s in analysis.latest_submissions(db.session, questionnaire)}
        rows = []
        for party in analysis.targets(db.session, questionnaire):
            s = submitted.get(party.id)
            rows.append(exports.ExportRow(party, statuses.get(party.id, "not_started"),
                                          s.revision.submitted_at.isoformat(timespec="seconds") if s else "",
                                          str(s.revision.number) if s else "", s.values if s else {}))
    else:
        questionnaire = _state_questionnaire(questionnaire_id)
        party = user().party
        response = responses.response_of(db.session, questionnaire, party)
        status = "not_started" if response is None else (
            "submitted" if response.status == ResponseStatus.SUBMITTED else "in_progress")
        last = response.revisions[-1] if response and response.revisions else None
        rows = [exports.ExportRow(party, status, last.submitted_at.isoformat(timespec="seconds") if last else "",
                                  str(last.number) if last else "", responses.current_values(response))]
    ids: set[int] = set()
    for row in rows:
        ids |= responses.file_ids_in(row.values)
    return questionnaire, rows, responses.file_names(db.session, ids)


def _export_name(questionnaire: Questionnaire, extension: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"questionnaire-{questionnaire.id}-edition-{questionnaire.edition}-{stamp}.{extension}"


@bp.get("/<int:questionnaire_id>/export.csv")
@p.require(p.QUESTIONNAIRE_VIEW)
def export_csv(questionnaire_id: int):  # type: ignore[no-untyped-def]
    questionnaire, rows, names = _export_rows(questionnaire_id)
    record(db.session, "questionnaire.export", request_actor(), target_type="questionnaire",
           target_id=questionnaire.id, details={"format": "csv", "rows": len(rows)})
    body = "".join(exports.csv_chunks(questionnaire, rows, names))
    db.session.commit()
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{_export_name(questionnaire, "csv")}"'})


@bp.get("/<int:questionnaire_id>/export.xlsx")
@p.require(p.QUESTIONNAIRE_VIEW)
def export_xlsx(questionnaire_id: int):  # type: ignore[no-untyped-def]
    questionnaire, rows, names = _export_rows(questionnaire_id)
    record(db.session, "questionnaire.export", request_actor(), target_type="questionnaire",
           target_id=questionnaire.id, details={"format": "xlsx", "rows": len(rows)})
    body = exports.xlsx_bytes(questionnaire, rows, names)
    db.session.commit()
    return Response(body, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="{_export_name(questionnaire, "xlsx")}"'})


@bp.get("/files/<int:document_id>")
@p.require(p.QUESTIONNAIRE_VIEW)
def download(document_id: int):  # type: ignore[no-untyped-def]
    try:
        stored = responses.readable_file(db.session, user(), document_id)
    except responses.NotFound:
        abort(404)
    path = files.path_of(stored.stored_name)
    if not path.is_file():
        abort(404)
    record(db.session, "questionnaire.file.download", request_actor(), target_type="questionnaire_file",
           target_id=stored.id)
    db.session.commit()
    response = send_file(path, mimetype=stored.content_type, as_attachment=True,
                         download_name=stored.original_name, max_age=0)
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# == country profiles =============================================================================

@bp.get("/profiles")
@p.require(p.QUESTIONNAIRE_PROFILE_READ)
def profiles():  # type: ignore[no-untyped-def]
    own = user().party if user().party.kind == PartyKind.STATE else None
    return render_template("questionnaires/profiles.html", states=responses.consenting_states(db.session), own=own)


@bp.get("/profiles/<code>")
@p.require(p.QUESTIONNAIRE_PROFILE_READ)
def profile(code: str):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    party = db.session.scalar(select(Party).where(Party.code == code, Party.kind == PartyKind.STATE))
    if party is None:
        abort(404)
    shared = responses.shares_profile(db.session, party)
    allowed = shared or user().party_id == party.id or responses.is_analyst(user())
    entries = []
    if allowed:
        for questionnaire, revision in responses.profile_entries(db.session, party):
            data = responses.revision_values(revision)
            ordered = questionnaire.ordered_questions()
            entries.append((questionnaire, revision, ordered, values.visible_ids(ordered, data), data,
                            responses.file_names(db.session, responses.file_ids_in(data))))
        record(db.session, "questionnaire.profile.view", request_actor(), target_type="party", target_id=party.id,
               details={"party": party.code})
        db.session.commit()
    return render_template("questionnaires/profile.html", party=party, shared=shared, allowed=allowed,
                           entries=entries, display=lambda q, v, n: values.display(q, v, locale(), n))


from cooperation.questionnaires import analysis_views, api, manage_views  # noqa: E402,F401  (routes on bp)
