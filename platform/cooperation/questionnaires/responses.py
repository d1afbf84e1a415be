"""A State's response: who may see it, saving one answer (optimistic concurrency: each answer
has a version; a stale save is a conflict carrying the other person's value), uploads, submission
with a snapshot, reopening, pre-filling from the previous edition, and the sharing consent.

A user of one State never reaches another State's response unless the questionnaire shares
submitted responses among the States it was sent to; the views turn a refusal into a 404."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import IO, Any

from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from cooperation import permissions as p
from cooperation.accounts.models import User
from cooperation.audit.service import Actor, record
from cooperation.db import utcnow
from cooperation.membership.models import Party, PartyKind
from cooperation.questionnaires import files, values
from cooperation.questionnaires.models import (
    Answer,
    Question,
    Questionnaire,
    QuestionnaireStatus,
    QuestionType,
    Response,
    ResponseStatus,
    Revision,
    StateSetting,
    StoredFile,
    Target,
)


class NotFound(LookupError):
    """Absent or not for this user: the view answers 404 either way."""


class Locked(ValueError):
    """The response cannot change now (submitted, or the questionnaire is not open)."""


@dataclass
class Conflict(Exception):
    """Someone saved this answer since the user loaded it."""

    answer: Answer
    by: str

    def __str__(self) -> str:
        return "conflict"


@dataclass
class Incomplete(Exception):
    """Required questions are unanswered."""

    missing: list[Question]


# -- scope -------------------------------------------------------------------------------------

def is_analyst(user: User) -> bool:
    return p.has_permission(p.QUESTIONNAIRE_ANALYSE, user)


def is_targeted(session: Session, questionnaire: Questionnaire, party: Party) -> bool:
    return session.scalar(select(Target.id).where(Target.questionnaire_id == questionnaire.id,
                                                  Target.party_id == party.id)) is not None


def questionnaire_for_state(session: Session, questionnaire_id: int, party: Party) -> Questionnaire:
    """A published questionnaire sent to this State; otherwise NotFound."""
    questionnaire = session.get(Questionnaire, questionnaire_id)
    if (questionnaire is None or questionnaire.status != QuestionnaireStatus.PUBLISHED
            or party.kind != PartyKind.STATE or not is_targeted(session, questionnaire, party)):
        raise NotFound()
    return questionnaire


def questionnaires_for_state(session: Session, party: Party) -> list[Questionnaire]:
    return list(session.scalars(
        select(Questionnaire).join(Target, Target.questionnaire_id == Questionnaire.id)
        .where(Target.party_id == party.id, Questionnaire.status == QuestionnaireStatus.PUBLISHED)
        .order_by(Questionnaire.published_at.desc(), Questionnaire.id.desc())))


def response_of(session: Session, questionnaire: Questionnaire, party: Party) -> Response | None:
    return session.scalar(select(Response).where(Response.questionnaire_id == questionnaire.id,
                                                 Response.party_id == party.id))


@dataclass(frozen=True)
class Access:
    """What a user may read of one State's response: the working draft (own State, analysts)
    or only the submitted revisions (other States, when the questionnaire shares them)."""

    questionnaire: Questionnaire
    party: Party
    response: Response | None
    draft_visible: bool


def readable(session: Session, user: User, questionnaire_id: int, party_code: str) -> Access:
    questionnaire = session.get(Questionnaire, questionnaire_id)
    party = session.scalar(select(Party).where(Party.code == party_code, Party.kind == PartyKind.STATE))
    if questionnaire is None or party is None or not is_targeted(session, questionnaire, party):
        raise NotFound()
    response = response_of(session, questionnaire, party)
    if is_analyst(user):
        return Access(questionnaire, party, response, True)
    if questionnaire.status != QuestionnaireStatus.PUBLISHED or user.party.kind != PartyKind.STATE:
        raise NotFound()
    if user.party_id == party.id:
        return Access(questionnaire, party, response, True)
    if (questionnaire.share_responses and is_targeted(session, questionnaire, user.party)
            and response is not None and response.revisions):
        return Access(questionnaire, party, response, False)
    raise NotFound()


# -- reading answers ----------------------------------------------------------------------------

def current_values(response: Response | None) -> dict[int, Any]:
    return {} if response is None else {a.question_id: a.value for a in response.answers}


def revision_values(revision: Revision) -> dict[int, Any]:
    return {int(k): v for k, v in (revision.answers or {}).items()}


def answers_by_question(response: Response | None) -> dict[int, Answer]:
    return {} if response is None else {a.question_id: a for a in response.answers}


def file_names(session: Session, file_ids: set[int]) -> dict[int, str]:
    if not file_ids:
        return {}
    # dict(list(...)): a Result has keys(), so dict() would read it as a mapping.
    return dict(list(session.execute(select(StoredFile.id, StoredFile.original_name)
                                     .where(StoredFile.id.in_(file_ids))).tuples()))


def file_ids_in(answer_values: dict[int, Any]) -> set[int]:
    return {v["file_id"] for v in answer_values.values() if isinstance(v, dict) and "file_id" in v}


def names_of(session: Session, user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    return dict(list(session.execute(select(User.id, User.full_name).where(User.id.in_(user_ids))).tuples()))


# -- saving ------------------------------------------------------------------------------------

def _check_open(questionnaire: Questionnaire, today: date) -> None:
    if not questionnaire.is_open(today):
        if questionnaire.opens_on and today < questionnaire.opens_on:
            raise Locked(_("This questionnaire opens on %(day)s.", day=questionnaire.opens_on.isoformat()))
        raise Locked(_("This questionnaire closed on %(day)s; answers can no longer change.",
                       day=questionnaire.closes_on.isoformat() if questionnaire.closes_on else "-"))


def ensure_response(session: Session, questionnaire: Questionnaire, party: Party, actor: Actor) -> Response:
    """The State's response, created on the first answer; two colleagues starting at once both
    end up with the same row (the unique constraint decides, inside a savepoint)."""
    existing = response_of(session, questionnaire, party)
    if existing is not None:
        return existing
    try:
        with session.begin_nested():
            response = Response(questionnaire_id=questionnaire.id, party_id=party.id,
                                status=ResponseStatus.IN_PROGRESS)
            session.add(response)
    except IntegrityError:
        found = response_of(session, questionnaire, party)
        assert found is not None
        return found
    record(session, "questionnaire.response.start", actor, target_type="questionnaire_response",
           target_id=response.id, details={"questionnaire": questionnaire.id, "party": party.code})
    return response


def writable_response(session: Session, questionnaire: Questionnaire, party: Party, actor: Actor,
                      today: date) -> Response:
    _check_open(questionnaire, today)
    response = ensure_response(session, questionnaire, party, actor)
    if response.status == ResponseStatus.SUBMITTED:
        raise Locked(_("This response was submitted. The focal point can reopen it to revise it."))
    return response


def save_answer(session: Session, *, question: Question, party: Party, raw: Any, base_version: int,
                user: User, locale: str, actor: Actor, today: date) -> Answer:
    """Validate and store one answer. base_version is the version the user started from
    (0: no answer yet); if someone saved since, Conflict carries their value."""
    questionnaire = question.questionnaire
    response = writable_response(session, questionnaire, party, actor, today)
    value = values.clean(question, raw, file_exists=lambda fid: _file_of(session, fid, party, questionnaire))
    now = utcnow()
    existing = session.scalar(select(Answer).where(Answer.response_id == response.id,
                                                   Answer.question_id == question.id))
    if existing is None:
        try:
            with session.begin_nested():
                answer = Answer(response_id=response.id, question_id=question.id, value=value,
                                language=locale[:8], version=1, updated_at=now, updated_by_id=user.id)
                session.add(answer)
        except IntegrityError:
            other = session.scalar(select(Answer).where(Answer.response_id == response.id,
                                                        Answer.question_id == question.id))
            assert other is not None
            raise Conflict(other, _who(session, other)) from None
    else:
        # Compare-and-set in one statement: two saves from the same version cannot both win.
        changed = session.execute(
            update(Answer).where(Answer.id == existing.id, Answer.version == base_version)
            .values(value=value, language=locale[:8], version=Answer.version + 1, updated_at=now,
                    updated_by_id=user.id)
            .execution_options(synchronize_session=False)).rowcount
        session.refresh(existing)
        if not changed:
            raise Conflict(existing, _who(session, existing))
        answer = existing
    response.updated_at = now
    record(session, "questionnaire.answer.save", actor, target_type="questionnaire_answer", target_id=answer.id,
           details={"questionnaire": questionnaire.id, "question": question.id, "party": party.code,
                    "version": answer.version})
    return answer


def _who(session: Session, answer: Answer) -> str:
    if answer.updated_by_id is None:
        return ""
    return session.scalar(select(User.full_name).where(User.id == answer.updated_by_id)) or ""


def _file_of(session: Session, file_id: int, party: Party, questionnaire: Questionnaire) -> bool:
    found = session.get(StoredFile, file_id)
    return found is not None and found.party_id == party.id


def upload(session: Session, *, question: Question, party: Party, stream: IO[bytes], filename: str,
           base_version: int, user: User, locale: str, actor: Actor, today: date) -> tuple[Answer, StoredFile]:
    """Check and store a document, then make it the question's answer (same concurrency rule).
    On any refusal the bytes are removed again and nothing else of the draft changes."""
    if question.qtype != QuestionType.FILE:
        raise values.AnswerError(_("This question does not take a document."))
    questionnaire = question.questionnaire
    writable_response(session, questionnaire, party, actor, today)
    checked = files.check(stream, filename)
    stored_name = files.store(checked)
    try:
        stored = StoredFile(party_id=party.id, questionnaire_id=questionnaire.id, stored_name=stored_name,
                            original_name=checked.original_name, content_type=checked.content_type,
                            size=len(checked.data), sha256=checked.sha256, uploaded_by_id=user.id)
        session.add(stored)
        session.flush()
        record(session, "questionnaire.file.upload", actor, target_type="questionnaire_file", target_id=stored.id,
               details={"questionnaire": questionnaire.id, "question": question.id, "party": party.code,
                        "size": stored.size, "type": checked.extension})
        answer = save_answer(session, question=question, party=party, raw={"file_id": stored.id},
                             base_version=base_version, user=user, locale=locale, actor=actor, today=today)
    except BaseException:
        files.discard(stored_name)
        raise
    return answer, stored


def readable_file(session: Session, user: User, file_id: int) -> StoredFile:
    stored = session.get(StoredFile, file_id)
    if stored is None:
        raise NotFound()
    if is_analyst(user) or user.party_id == stored.party_id:
        return stored
    party = session.get(Party, stored.party_id)
    assert party is not None
    # Another State: only a document of a shared country profile or of the latest submitted
    # revision of a response the questionnaire shares.
    if user.party.kind == PartyKind.STATE and shares_profile(session, party):
        for _questionnaire, revision in profile_entries(session, party):
            if file_id in file_ids_in(revision_values(revision)):
                return stored
    access = readable(session, user, stored.questionnaire_id, party.code)
    if access.response is not None and access.response.revisions:
        if file_id in file_ids_in(revision_values(access.response.revisions[-1])):
            return stored
    raise NotFound()


# -- submission --------------------------------------------------------------------------------

def missing_required(questionnaire: Questionnaire, answer_values: dict[int, Any]) -> list[Question]:
    ordered = questionnaire.ordered_questions()
    shown = values.visible_ids(ordered, answer_values)
    return [q for q in ordered if q.required and q.id in shown and values.is_empty(answer_values.get(q.id))]


def submit(session: Session, *, questionnaire: Questionnaire, party: Party, user: User, actor: Actor,
           today: date) -> Revision:
    response = writable_response(session, questionnaire, party, actor, today)
    current = current_values(response)
    missing = missing_required(questionnaire, current)
    if missing:
        raise Incomplete(missing)
    shown = values.visible_ids(questionnaire.ordered_questions(), current)
    snapshot = {str(qid): v for qid, v in current.items() if qid in shown and not values.is_empty(v)}
    now = utcnow()
    revision = Revision(response_id=response.id, number=len(response.revisions) + 1, submitted_at=now,
                        submitted_by_id=user.id, answers=snapshot)
    response.revisions.append(revision)
    response.status = ResponseStatus.SUBMITTED
    response.submitted_at, response.submitted_by_id, response.updated_at = now, user.id, now
    session.flush()
    record(session, "questionnaire.response.submit", actor, target_type="questionnaire_response",
           target_id=response.id, details={"questionnaire": questionnaire.id, "party": party.code,
                                           "revision": revision.number})
    return revision


def reopen(session: Session, *, questionnaire: Questionnaire, party: Party, actor: Actor, today: date) -> Response:
    _check_open(questionnaire, today)
    response = response_of(session, questionnaire, party)
    if response is None or response.status != ResponseStatus.SUBMITTED:
        raise Locked(_("Only a submitted response can be reopened."))
    response.status = ResponseStatus.IN_PROGRESS
    response.updated_at = utcnow()
    record(session, "questionnaire.response.reopen", actor, target_type="questionnaire_response",
           target_id=response.id, details={"questionnaire": questionnaire.id, "party": party.code})
    return response


# -- pre-filling from the previous edition -----------------------------------------------------

def previous_response(session: Session, questionnaire: Questionnaire, party: Party) -> Response | None:
    seen: set[int] = set()
    current = questionnaire.previous
    while current is not None and current.id not in seen:
        seen.add(current.id)
        found = response_of(session, current, party)
        if found is not None:
            return found
        current = current.previous
    return None


def prefill(session: Session, *, questionnaire: Questionnaire, party: Party, user: User, locale: str,
            actor: Actor, today: date) -> int:
    """Copy the previous edition's answers (its last submission, else its draft) into empty
    answers of questions with the same code and type. Returns how many were copied."""
    source = previous_response(session, questionnaire, party)
    if source is None:
        raise Locked(_("Your State has no response to an earlier edition of this questionnaire."))
    response = writable_response(session, questionnaire, party, actor, today)
    old_values = revision_values(source.revisions[-1]) if source.revisions else current_values(source)
    old_questions = {q.id: q for q in source.questionnaire.questions}
    by_code = {old_questions[qid].code: (old_questions[qid], v) for qid, v in old_values.items()
               if qid in old_questions}
    existing = answers_by_question(response)
    now, copied = utcnow(), 0
    for question in questionnaire.questions:
        old = by_code.get(question.code)
        if old is None or old[0].qtype != question.qtype or values.is_empty(old[1]):
            continue
        answer = existing.get(question.id)
        if answer is not None and not values.is_empty(answer.value):
            continue
        try:
            value = values.clean(question, old[1],
                                 file_exists=lambda fid: _file_of(session, fid, party, questionnaire))
        except values.AnswerError:
            continue  # e.g. an option removed in the new edition
        if answer is None:
            session.add(Answer(response_id=response.id, question_id=question.id, value=value, language=locale,
                               version=1, updated_at=now, updated_by_id=user.id))
        else:
            answer.value, answer.version, answer.updated_at, answer.updated_by_id = \
                value, answer.version + 1, now, user.id
        copied += 1
    session.flush()
    record(session, "questionnaire.response.prefill", actor, target_type="questionnaire_response",
           target_id=response.id, details={"questionnaire": questionnaire.id, "party": party.code,
                                           "from": source.id, "copied": copied})
    return copied


# -- country profile consent -------------------------------------------------------------------

def shares_profile(session: Session, party: Party) -> bool:
    return bool(session.scalar(select(StateSetting.share_profile).where(StateSetting.party_id == party.id)))


def set_profile_consent(session: Session, *, party: Party, share: bool, user: User, actor: Actor) -> None:
    setting = session.scalar(select(StateSetting).where(StateSetting.party_id == party.id))
    if setting is None:
        setting = StateSetting(party_id=party.id)
        session.add(setting)
    setting.share_profile, setting.updated_at, setting.updated_by_id = share, utcnow(), user.id
    session.flush()
    record(session, "questionnaire.profile.consent", actor, target_type="party", target_id=party.id,
           details={"party": party.code, "share_profile": share})


def consenting_states(session: Session) -> list[Party]:
    return list(session.scalars(select(Party).join(StateSetting, StateSetting.party_id == Party.id)
                                .where(StateSetting.share_profile.is_(True)).order_by(Party.name_en)))


def profile_entries(session: Session, party: Party) -> list[tuple[Questionnaire, Revision]]:
    """The latest submitted revision of each published questionnaire series for this State."""
    rows = session.execute(
        select(Questionnaire, Response).join(Response, Response.questionnaire_id == Questionnaire.id)
        .where(Response.party_id == party.id, Questionnaire.status == QuestionnaireStatus.PUBLISHED)
        .order_by(Questionnaire.series_id, Questionnaire.edition.desc())).all()
    latest: dict[str, tuple[Questionnaire, Revision]] = {}
    for questionnaire, response in rows:
        if questionnaire.series_id not in latest and response.revisions:
            latest[questionnaire.series_id] = (questionnaire, response.revisions[-1])
    return sorted(latest.values(), key=lambda e: e[1].submitted_at, reverse=True)

