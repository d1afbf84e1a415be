"""The builder (Secretariat administrators and Registry editors): questionnaires, sections,
questions, publication, settings, new editions and response tracking."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from cooperation import permissions as p
from cooperation.audit.context import request_actor
from cooperation.extensions import db
from cooperation.membership.models import RegionalGroup
from cooperation.questionnaires import analysis, services
from cooperation.questionnaires.forms import (
    ConfirmForm,
    GroupFilterForm,
    MoveForm,
    PublishForm,
    QuestionForm,
    QuestionnaireForm,
    SectionForm,
    SettingsForm,
)
from cooperation.questionnaires.models import Question, Questionnaire, QuestionType, Section
from cooperation.questionnaires.services import Bilingual, BuilderError, QuestionData
from cooperation.questionnaires.views import bp, locale, today, user


def _questionnaire(questionnaire_id: int) -> Questionnaire:
    found = db.session.get(Questionnaire, questionnaire_id)
    if found is None:
        abort(404)
    return found


def _error(form: Any, exc: BuilderError, default: str) -> None:
    name = exc.field if exc.field and exc.field in form else default
    form[name].errors = [*form[name].errors, str(exc)]


def _committed(form: Any, error_field: str, change: Callable[[], object]) -> bool:
    """Apply one builder change and commit it; a refusal rolls back and is shown on the form."""
    try:
        change()
        db.session.commit()
    except BuilderError as exc:
        db.session.rollback()
        _error(form, exc, error_field)
        return False
    return True


def _builder(questionnaire: Questionnaire, status: int = 200, **extra: Any):  # type: ignore[no-untyped-def]
    settings = extra.pop("settings", None) or SettingsForm(
        formdata=None,
        share_responses=questionnaire.share_responses,
        reminder_interval_days=questionnaire.reminder_interval_days,
        closes_on=questionnaire.closes_on,
    )
    editions = (
        db.session.query(Questionnaire)
        .filter(Questionnaire.series_id == questionnaire.series_id)
        .order_by(Questionnaire.edition)
        .all()
    )
    return render_template(
        "questionnaires/manage/builder.html",
        questionnaire=questionnaire,
        settings=settings,
        confirm=ConfirmForm(),
        move=MoveForm(),
        editions=editions,
        message=extra.pop("message", ""),
        **extra,
    ), status


@bp.get("/manage/")
@p.require(p.QUESTIONNAIRE_MANAGE)
def manage_index():  # type: ignore[no-untyped-def]
    return render_template(
        "questionnaires/manage/index.html", questionnaires=services.list_questionnaires(db.session)
    )


@bp.route("/manage/new", methods=["GET", "POST"])
@p.require(p.QUESTIONNAIRE_MANAGE)
def manage_new():  # type: ignore[no-untyped-def]
    form = QuestionnaireForm()
    if form.validate_on_submit():
        try:
            questionnaire = services.create_questionnaire(
                db.session,
                title=Bilingual(form.title_en.data or "", form.title_fr.data or ""),
                description=Bilingual(
                    form.description_en.data or "", form.description_fr.data or ""
                ),
                user=user(),
                actor=request_actor(),
            )
            db.session.commit()
        except BuilderError as exc:
            db.session.rollback()
            _error(form, exc, "title_en")
        else:
            flash(_("The questionnaire was created. Add a section, then its questions."), "success")
            return redirect(url_for("questionnaires.manage", questionnaire_id=questionnaire.id))
    return render_template(
        "questionnaires/manage/details.html", form=form, questionnaire=None
    ), 400 if request.method == "POST" else 200


@bp.get("/manage/<int:questionnaire_id>")
@p.require(p.QUESTIONNAIRE_MANAGE)
def manage(questionnaire_id: int):  # type: ignore[no-untyped-def]
    return _builder(_questionnaire(questionnaire_id))


@bp.route("/manage/<int:questionnaire_id>/details", methods=["GET", "POST"])
@p.require(p.QUESTIONNAIRE_MANAGE)
def manage_details(questionnaire_id: int):  # type: ignore[no-untyped-def]
    questionnaire = _questionnaire(questionnaire_id)
    form = QuestionnaireForm(obj=questionnaire if request.method == "GET" else None)
    if form.validate_on_submit() and _committed(
        form,
        "title_en",
        lambda: services.update_details(
            db.session,
            questionnaire,
            title=Bilingual(form.title_en.data or "", form.title_fr.data or ""),
            description=Bilingual(form.description_en.data or "", form.description_fr.data or ""),
            actor=request_actor(),
        ),
    ):
        flash(_("The questionnaire was saved."), "success")
        return redirect(url_for("questionnaires.manage", questionnaire_id=questionnaire.id))
    return render_template(
        "questionnaires/manage/details.html", form=form, questionnaire=questionnaire
    ), 400 if request.method == "POST" else 200


@bp.post("/manage/<int:questionnaire_id>/settings")
@p.require(p.QUESTIONNAIRE_MANAGE)
def manage_settings(questionnaire_id: int):  # type: ignore[no-untyped-def]
    questionnaire = _questionnaire(questionnaire_id)
    form = SettingsForm()
    if form.validate_on_submit() and _committed(
        form,
        "reminder_interval_days",
        lambda: services.update_settings(
            db.session,
            questionnaire,
            share_responses=bool(form.share_responses.data),
            reminder_interval_days=form.reminder_interval_days.data,
            closes_on=form.closes_on.data,
            actor=request_actor(),
        ),
    ):
        flash(_("The settings were saved."), "success")
        return redirect(url_for("questionnaires.manage", questionnaire_id=questionnaire.id))
    return _builder(questionnaire, 400, settings=form)


# -- sections -------------------------------------------------------------------------------------


@bp.route("/manage/<int:questionnaire_id>/sections/new", methods=["GET", "POST"])
@p.require(p.QUESTIONNAIRE_MANAGE)
def section_new(questionnaire_id: int):  # type: ignore[no-untyped-def]
    questionnaire = _questionnaire(questionnaire_id)
    form = SectionForm()
    if form.validate_on_submit() and _committed(
        form,
        "title_en",
        lambda: services.add_section(
            db.session,
            questionnaire,
            title=Bilingual(form.title_en.data or "", form.title_fr.data or ""),
            actor=request_actor(),
        ),
    ):
        flash(_("The section was added."), "success")
        return redirect(url_for("questionnaires.manage", questionnaire_id=questionnaire.id))
    return render_template(
        "questionnaires/manage/section_form.html",
        form=form,
        questionnaire=questionnaire,
        section=None,
    ), 400 if request.method == "POST" else 200


@bp.route("/manage/sections/<int:section_id>/edit", methods=["GET", "POST"])
@p.require(p.QUESTIONNAIRE_MANAGE)
def section_edit(section_id: int):  # type: ignore[no-untyped-def]
    section = db.session.get(Section, section_id) or abort(404)
    form = SectionForm(obj=section if request.method == "GET" else None)
    if form.validate_on_submit() and _committed(
        form,
        "title_en",
        lambda: services.update_section(
            db.session,
            section,
            title=Bilingual(form.title_en.data or "", form.title_fr.data or ""),
            actor=request_actor(),
        ),
    ):
        flash(_("The section was saved."), "success")
        return redirect(url_for("questionnaires.manage", questionnaire_id=section.questionnaire_id))
    return render_template(
        "questionnaires/manage/section_form.html",
        form=form,
        questionnaire=section.questionnaire,
        section=section,
    ), 400 if request.method == "POST" else 200


@bp.post("/manage/sections/<int:section_id>/delete")
@p.require(p.QUESTIONNAIRE_MANAGE)
def section_delete(section_id: int):  # type: ignore[no-untyped-def]
    section = db.session.get(Section, section_id) or abort(404)
    questionnaire = section.questionnaire
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        services.delete_section(db.session, section, request_actor())
        db.session.commit()
    except BuilderError as exc:
        db.session.rollback()
        return _builder(questionnaire, 400, message=str(exc))
    flash(_("The section was deleted."), "success")
    return redirect(url_for("questionnaires.manage", questionnaire_id=questionnaire.id))


# -- questions ------------------------------------------------------------------------------------


def _question_form(questionnaire: Questionnaire, question: Question | None) -> QuestionForm:
    form = QuestionForm(obj=question if request.method == "GET" and question else None)
    form.section_id.choices = [
        SelectChoice(s.id, f"{i}. {s.title_en or s.title_fr}")
        for i, s in enumerate(questionnaire.sections, start=1)
    ]
    earlier = questionnaire.ordered_questions()
    if question is not None:
        earlier = earlier[: earlier.index(question)]
    form.condition_question_id.choices = [SelectChoice("", _("Always shown"))] + [
        SelectChoice(str(q.id), f"{q.code}: {(q.text_en or q.text_fr)[:80]}")
        for q in earlier
        if q.qtype.can_be_condition
    ]
    if request.method == "GET":
        if question is not None:
            form.qtype.data = question.qtype.value
            form.options.data = services.options_text(question)
            form.condition_question_id.data = str(question.condition_question_id or "")
        elif request.args.get("section", type=int):
            form.section_id.data = request.args.get("section", type=int)
    return form


def _question_data(form: QuestionForm) -> QuestionData:
    condition = form.condition_question_id.data or ""
    return QuestionData(
        section_id=form.section_id.data,
        qtype=QuestionType(form.qtype.data),
        text=Bilingual(form.text_en.data or "", form.text_fr.data or ""),
        guidance=Bilingual(form.guidance_en.data or "", form.guidance_fr.data or ""),
        required=bool(form.required.data),
        options=services.parse_options(form.options.data or "")
        if QuestionType(form.qtype.data).has_options
        else (),
        condition_question_id=int(condition) if condition.isdigit() else None,
        condition_value=form.condition_value.data or "",
    )


@bp.route("/manage/<int:questionnaire_id>/questions/new", methods=["GET", "POST"])
@p.require(p.QUESTIONNAIRE_MANAGE)
def question_new(questionnaire_id: int):  # type: ignore[no-untyped-def]
    questionnaire = _questionnaire(questionnaire_id)
    if questionnaire.is_frozen:
        flash(
            _(
                "This questionnaire is published and can no longer be changed. Start a new edition to change its "
                "questions."
            ),
            "error",
        )
        return redirect(url_for("questionnaires.manage", questionnaire_id=questionnaire.id))
    if not questionnaire.sections:
        flash(_("Add a section first."), "error")
        return redirect(url_for("questionnaires.section_new", questionnaire_id=questionnaire.id))
    form = _question_form(questionnaire, None)
    if form.validate_on_submit() and _committed(
        form,
        "text_en",
        lambda: services.add_question(
            db.session, questionnaire, _question_data(form), request_actor()
        ),
    ):
        flash(_("The question was added."), "success")
        return redirect(url_for("questionnaires.manage", questionnaire_id=questionnaire.id))
    return render_template(
        "questionnaires/manage/question_form.html",
        form=form,
        questionnaire=questionnaire,
        question=None,
    ), 400 if request.method == "POST" else 200


@bp.route("/manage/questions/<int:question_id>/edit", methods=["GET", "POST"])
@p.require(p.QUESTIONNAIRE_MANAGE)
def question_edit(question_id: int):  # type: ignore[no-untyped-def]
    question = db.session.get(Question, question_id) or abort(404)
    questionnaire = question.questionnaire
    if questionnaire.is_frozen:
        flash(
            _(
                "This questionnaire is published and can no longer be changed. Start a new edition to change its "
                "questions."
            ),
            "error",
        )
        return redirect(url_for("questionnaires.manage", questionnaire_id=questionnaire.id))
    form = _question_form(questionnaire, question)
    if form.validate_on_submit() and _committed(
        form,
        "text_en",
        lambda: services.update_question(
            db.session, question, _question_data(form), request_actor()
        ),
    ):
        flash(_("The question was saved."), "success")
        return redirect(url_for("questionnaires.manage", questionnaire_id=questionnaire.id))
    return render_template(
        "questionnaires/manage/question_form.html",
        form=form,
        questionnaire=questionnaire,
        question=question,
    ), 400 if request.method == "POST" else 200


@bp.post("/manage/questions/<int:question_id>/delete")
@p.require(p.QUESTIONNAIRE_MANAGE)
def question_delete(question_id: int):  # type: ignore[no-untyped-def]
    question = db.session.get(Question, question_id) or abort(404)
    questionnaire = question.questionnaire
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        services.delete_question(db.session, question, request_actor())
        db.session.commit()
    except BuilderError as exc:
        db.session.rollback()
        return _builder(questionnaire, 400, message=str(exc))
    flash(_("The question was deleted."), "success")
    return redirect(url_for("questionnaires.manage", questionnaire_id=questionnaire.id))


@bp.post("/manage/questions/<int:question_id>/move")
@p.require(p.QUESTIONNAIRE_MANAGE)
def question_move(question_id: int):  # type: ignore[no-untyped-def]
    question = db.session.get(Question, question_id) or abort(404)
    questionnaire = question.questionnaire
    form = MoveForm()
    if not form.validate_on_submit():
        return _builder(questionnaire, 400, message=_("Choose up or down."))
    try:
        services.move_question(db.session, question, form.direction.data, request_actor())
        db.session.commit()
    except BuilderError as exc:
        db.session.rollback()
        return _builder(questionnaire, 400, message=str(exc))
    return redirect(
        url_for("questionnaires.manage", questionnaire_id=questionnaire.id)
        + f"#question-{question.id}"
    )


# -- publication, editions, tracking --------------------------------------------------------------


@bp.route("/manage/<int:questionnaire_id>/publish", methods=["GET", "POST"])
@p.require(p.QUESTIONNAIRE_MANAGE)
def publish(questionnaire_id: int):  # type: ignore[no-untyped-def]
    questionnaire = _questionnaire(questionnaire_id)
    if questionnaire.is_frozen:
        flash(_("This edition is already published."), "error")
        return redirect(url_for("questionnaires.manage", questionnaire_id=questionnaire.id))
    form = PublishForm()
    states = services.active_states(db.session)
    form.states.choices = [SelectChoice(s.code, s.name(locale())) for s in states]
    if request.method == "GET":
        form.opens_on.data = today()
    if form.validate_on_submit():
        try:
            chosen = services.publish(
                db.session,
                questionnaire,
                everyone=form.audience.data == "all",
                state_codes=form.states.data or [],
                groups=[RegionalGroup(g) for g in form.groups.data or []],
                opens_on=form.opens_on.data,
                closes_on=form.closes_on.data,
                actor=request_actor(),
            )
            db.session.commit()
        except BuilderError as exc:
            db.session.rollback()
            _error(form, exc, "audience")
        else:
            flash(_("The questionnaire was published to %(n)d States.", n=len(chosen)), "success")
            return redirect(url_for("questionnaires.manage", questionnaire_id=questionnaire.id))
    return render_template(
        "questionnaires/manage/publish.html", form=form, questionnaire=questionnaire
    ), 400 if request.method == "POST" else 200


@bp.post("/manage/<int:questionnaire_id>/new-edition")
@p.require(p.QUESTIONNAIRE_MANAGE)
def new_edition(questionnaire_id: int):  # type: ignore[no-untyped-def]
    questionnaire = _questionnaire(questionnaire_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        copy = services.new_edition(db.session, questionnaire, user=user(), actor=request_actor())
        db.session.commit()
    except BuilderError as exc:
        db.session.rollback()
        return _builder(questionnaire, 400, message=str(exc))
    flash(
        _(
            "Edition %(n)d was created as a draft. States will be able to pre-fill it from their previous response.",
            n=copy.edition,
        ),
        "success",
    )
    return redirect(url_for("questionnaires.manage", questionnaire_id=copy.id))


@bp.get("/manage/<int:questionnaire_id>/tracking")
@p.require(p.QUESTIONNAIRE_MANAGE)
def tracking(questionnaire_id: int):  # type: ignore[no-untyped-def]
    questionnaire = _questionnaire(questionnaire_id)
    form = GroupFilterForm(request.args)
    valid = form.validate()
    group = RegionalGroup(form.group.data) if valid and form.group.data else None
    rows, by_group = analysis.tracking(db.session, questionnaire, group)
    return render_template(
        "questionnaires/manage/tracking.html",
        questionnaire=questionnaire,
        rows=rows,
        by_group=by_group,
        form=form,
    ), 200 if valid else 400
