"""JSON endpoints for autosave: one answer at a time, with the answer's version (409 with the
other person's value on a stale save), and document uploads. The CSRF token travels in the
X-CSRFToken header (Flask-WTF checks it on every POST)."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as WerkzeugResponse

from cooperation import permissions as p
from cooperation.audit.context import request_actor
from cooperation.extensions import csrf, db
from cooperation.questionnaires.uploads import upload_csrf
from cooperation.questionnaires import files, responses, values
from cooperation.questionnaires.models import Question, Questionnaire
from cooperation.questionnaires.views import bp, locale, today, user

JsonReply = tuple[WerkzeugResponse, int]
UPLOAD_LIMIT = files.MAX_BYTES + 64 * 1024  # the document and the form's few fields




def _error(status: int, message: str, **extra: Any) -> JsonReply:
    return jsonify(error=message, **extra), status


def _question(question_id: int) -> tuple[Question, Questionnaire] | None:
    question = db.session.get(Question, question_id)
    if question is None:
        return None
    try:
        questionnaire = responses.questionnaire_for_state(db.session, question.questionnaire_id, user().party)
    except responses.NotFound:
        return None
    return question, questionnaire


def _saved(question: Question, questionnaire: Questionnaire, answer: Any, **extra: Any) -> JsonReply:
    response = responses.response_of(db.session, questionnaire, user().party)
    current = responses.current_values(response)
    visible = values.visible_ids(questionnaire.ordered_questions(), current)
    return jsonify(version=answer.version, saved_at=answer.updated_at.isoformat(timespec="seconds"),
                   visible=sorted(visible), **extra), 200


def _conflict(question: Question, conflict: responses.Conflict) -> JsonReply:
    answer = conflict.answer
    names = responses.file_names(db.session, responses.file_ids_in({0: answer.value}))
    return _error(409, _("%(who)s changed this answer while you were editing it. Compare the two and keep the right "
                         "one.", who=conflict.by or _("A colleague")),
                  value=answer.value, display=values.display(question, answer.value, locale(), names),
                  version=answer.version, by=conflict.by,
                  at=answer.updated_at.isoformat(timespec="seconds"))


@bp.post("/api/answers/<int:question_id>")
@p.require(p.QUESTIONNAIRE_ANSWER)
def api_save_answer(question_id: int):  # type: ignore[no-untyped-def]
    found = _question(question_id)
    if found is None:
        return _error(404, _("This question does not exist, or you do not have access to it."))
    question, questionnaire = found
    body = request.get_json(silent=True)
    version = body.get("version") if isinstance(body, dict) else None
    if not isinstance(version, int) or isinstance(version, bool) or version < 0 or "value" not in body:
        return _error(400, _("The request could not be understood."))
    try:
        answer = responses.save_answer(db.session, question=question, party=user().party, raw=body["value"],
                                       base_version=version, user=user(), locale=locale(),
                                       actor=request_actor(), today=today())
        db.session.commit()
    except values.AnswerError as exc:
        db.session.rollback()
        return _error(422, str(exc))
    except responses.Locked as exc:
        db.session.rollback()
        return _error(423, str(exc))
    except responses.Conflict as conflict:
        db.session.rollback()
        return _conflict(question, conflict)
    return _saved(question, questionnaire, answer)


@bp.post("/api/answers/<int:question_id>/file")
@csrf.exempt
@upload_csrf(UPLOAD_LIMIT)
@p.require(p.QUESTIONNAIRE_ANSWER)
def api_upload(question_id: int):  # type: ignore[no-untyped-def]
    found = _question(question_id)
    if found is None:
        return _error(404, _("This question does not exist, or you do not have access to it."))
    question, questionnaire = found
    upload = request.files.get("file")
    version = request.form.get("version", "")
    if upload is None or not upload.filename or not version.isdigit():
        return _error(400, _("Choose a document to upload."))
    try:
        answer, stored = responses.upload(db.session, question=question, party=user().party, stream=upload.stream,
                                          filename=upload.filename, base_version=int(version), user=user(),
                                          locale=locale(), actor=request_actor(), today=today())
        db.session.commit()
    except (values.AnswerError, files.FileRefused) as exc:
        db.session.rollback()
        return _error(422, str(exc))
    except responses.Locked as exc:
        db.session.rollback()
        return _error(423, str(exc))
    except responses.Conflict as conflict:
        db.session.rollback()
        return _conflict(question, conflict)
    finally:
        upload.close()  # a large upload is spooled to a temporary file
    return _saved(question, questionnaire, answer,
                  file={"id": stored.id, "name": stored.original_name,
                        "url": url_for("questionnaires.download", document_id=stored.id)})
