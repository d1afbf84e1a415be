"""Analysis pages (Secretariat, Registry): the dashboard per question with charts and data
tables, response rates over time, and the comparison of all States for one question."""

from __future__ import annotations

from flask import abort, render_template, request
from flask_babel import gettext as _

from cooperation import permissions as p
from cooperation.audit.context import request_actor
from cooperation.audit.service import record
from cooperation.extensions import db
from cooperation.membership.models import RegionalGroup
from cooperation.questionnaires import analysis, charts, responses, values
from cooperation.questionnaires.forms import GroupFilterForm
from cooperation.questionnaires.models import Question
from cooperation.questionnaires.views import bp, locale


def _group() -> tuple[GroupFilterForm, RegionalGroup | None, bool]:
    form = GroupFilterForm(request.args)
    valid = form.validate()
    return form, (RegionalGroup(form.group.data) if valid and form.group.data else None), valid


def _percent(share: float) -> str:
    # Whole percentages; French puts a (narrow no-break) space before the sign.
    number = round(share * 100)
    return f"{number}\u202f%" if locale().startswith("fr") else f"{number}%"


@bp.get("/analysis/<int:questionnaire_id>")
@p.require(p.QUESTIONNAIRE_ANALYSE)
def dashboard(questionnaire_id: int):  # type: ignore[no-untyped-def]
    questionnaire = analysis.load(db.session, questionnaire_id) or abort(404)
    form, group, valid = _group()
    stats, submitted, sent_to = analysis.dashboard(db.session, questionnaire, group, locale())
    chart_for = {}
    for item in stats:
        if item.bars:
            data = [charts.Datum(b.label, b.count, f"{b.count} ({_percent(b.share)})") for b in item.bars]
            chart_for[item.question.id] = charts.bar_chart(
                f"chart-{item.question.id}", _("Answers to %(code)s", code=item.question.code),
                _("%(n)d of %(m)d submitted responses answered this question.", n=item.answered, m=item.submissions),
                data)
    rates = analysis.response_rates(db.session, questionnaire, group)
    rate_chart = charts.bar_chart(
        "chart-rates", _("Submitted responses over time"),
        _("Cumulative number of States that had submitted, by day."),
        [charts.Datum(day.isoformat(), count, f"{count} ({_percent(share)})") for day, count, share in rates]) \
        if rates else None
    record(db.session, "questionnaire.analysis.view", request_actor(), target_type="questionnaire",
           target_id=questionnaire.id, details={"group": group.value if group else None})
    db.session.commit()
    return render_template("questionnaires/analysis/dashboard.html", questionnaire=questionnaire, form=form,
                           stats=stats, submitted=submitted, sent_to=sent_to, chart_for=chart_for,
                           rates=rates, rate_chart=rate_chart, percent=_percent,
                           response_rate=_percent(submitted / sent_to if sent_to else 0)), 200 if valid else 400


@bp.get("/analysis/questions/<int:question_id>")
@p.require(p.QUESTIONNAIRE_ANALYSE)
def question_comparison(question_id: int):  # type: ignore[no-untyped-def]
    question = db.session.get(Question, question_id) or abort(404)
    form, group, valid = _group()
    rows = analysis.comparison(db.session, question, group)
    names = responses.file_names(db.session, responses.file_ids_in({i: r.value for i, r in enumerate(rows)}))
    record(db.session, "questionnaire.analysis.compare", request_actor(), target_type="questionnaire_question",
           target_id=question.id, details={"group": group.value if group else None})
    db.session.commit()
    return render_template("questionnaires/analysis/question.html", question=question,
                           questionnaire=question.questionnaire, rows=rows, form=form,
                           display=lambda v: values.display(question, v, locale(), names)), 200 if valid else 400
