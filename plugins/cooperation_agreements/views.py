"""Registry pages: every member reads (public entries, own State's entries, figures per regional
group) and exports; the Court sees every entry; the Registry keeps the registry. An entry the
user may not see answers 404."""

from __future__ import annotations

from datetime import UTC, date, datetime

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
from cooperation_agreements import documents, export, services
from cooperation_agreements.forms import (
    FORM_LABELS,
    KIND_LABELS,
    STATUS_LABELS,
    AgreementEditForm,
    ConfirmDeleteForm,
    FileUploadForm,
    FilterForm,
)
from cooperation_agreements.models import Agreement, AgreementForm, AgreementKind, AgreementStatus
from cooperation_agreements.permissions import REGISTRY_MANAGE, REGISTRY_READ

bp = Blueprint("agreements", __name__, template_folder="templates")


@bp.context_processor
def _labels() -> dict[str, object]:
    return {"kind_labels": KIND_LABELS, "status_labels": STATUS_LABELS, "form_labels": FORM_LABELS,
            "group_labels": GROUP_LABELS, "AgreementKind": AgreementKind}


def _user() -> User:
    return current_user._get_current_object()  # type: ignore[attr-defined,no-any-return]


def _locale() -> str:
    return str(get_locale() or "en")


def _today() -> date:
    return utcnow().date()


def _filters() -> tuple[FilterForm, services.Filters | None]:
    form = FilterForm(request.args)
    form.state.choices = [SelectChoice("", _("All States")),
                          *(SelectChoice(s.code, s.name(_locale())) for s in services.states(db.session))]
    if not form.validate():
        return form, None
    return form, services.Filters(
        kind=AgreementKind(form.kind.data) if form.kind.data else None,
        status=AgreementStatus(form.status.data) if form.status.data else None,
        regional_group=RegionalGroup(form.group.data) if form.group.data else None,
        state_code=form.state.data or "")


def _readable(agreement_id: int) -> Agreement:
    try:
        return services.readable(db.session, _user(), agreement_id)
    except services.NotFound:
        abort(404)


# -- reading ---------------------------------------------------------------------------------------

@bp.get("/")
@p.require(REGISTRY_READ)
def index():  # type: ignore[no-untyped-def]
    form, filters = _filters()
    agreements = services.search(db.session, _user(), filters) if filters is not None else []
    groups = services.figures(db.session)
    return render_template("agreements/index.html", form=form, agreements=agreements, groups=groups,
                           totals=services.totals(groups), sees_all=services.sees_all(_user()),
                           can_manage=p.has_permission(REGISTRY_MANAGE), locale=_locale(),
                           export_args={k: v for k, v in request.args.items() if v}), \
        (200 if filters is not None else 400)


@bp.get("/export.csv")
@p.require(REGISTRY_READ)
def export_csv():  # type: ignore[no-untyped-def]
    _form, filters = _filters()
    if filters is None:
        from cooperation.errors import render_error

        return render_error(400)
    agreements = services.search(db.session, _user(), filters)
    record(db.session, "agreements.agreement.export", request_actor(), target_type="agreements",
           details={**filters.audit_summary(), "count": len(agreements)})
    body = "".join(export.rows(agreements, _locale()))
    db.session.commit()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="cooperation-agreements-{stamp}.csv"',
        "Cache-Control": "no-store"})


@bp.get("/<int:agreement_id>")
@p.require(REGISTRY_READ)
def show(agreement_id: int):  # type: ignore[no-untyped-def]
    agreement = _readable(agreement_id)
    return render_template("agreements/show.html", agreement=agreement, upload_form=FileUploadForm(),
                           can_manage=p.has_permission(REGISTRY_MANAGE), locale=_locale(),
                           max_mib=documents.MAX_BYTES // (1024 * 1024))


@bp.get("/<int:agreement_id>/files/<int:file_id>")
@p.require(REGISTRY_READ)
def download(agreement_id: int, file_id: int):  # type: ignore[no-untyped-def]
    agreement = _readable(agreement_id)
    try:
        item = services.agreement_file(agreement, file_id)
        path = documents.path_of(item.stored_name)
    except (services.NotFound, FileNotFoundError):
        abort(404)
    if not path.is_file():
        abort(404)
    record(db.session, "agreements.file.download", request_actor(), target_type="agreements_file",
           target_id=item.id, details={"agreement_id": agreement.id})
    db.session.commit()
    response = send_file(path, mimetype=item.content_type, as_attachment=True, download_name=item.original_name,
                         max_age=0)
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "no-store"
    return response


# -- managing --------------------------------------------------------------------------------------

def _edit_form(agreement: Agreement | None = None) -> AgreementEditForm:
    form = AgreementEditForm(obj=agreement) if agreement is not None else AgreementEditForm()
    form.state.choices = [SelectChoice("", _("Choose a State")),
                          *(SelectChoice(str(s.id), s.name(_locale())) for s in services.states(db.session))]
    if agreement is not None and request.method == "GET":
        form.state.data = str(agreement.party_id)
        form.kind.data = agreement.kind.value
        form.status.data = agreement.status.value
        form.form_kind.data = agreement.form.value
    return form


def _data(form: AgreementEditForm) -> services.AgreementData:
    return services.AgreementData(
        party_id=int(form.state.data), kind=AgreementKind(form.kind.data), status=AgreementStatus(form.status.data),
        form=AgreementForm(form.form_kind.data), title=form.title.data or "",
        discussions_started_on=form.discussions_started_on.data, signed_on=form.signed_on.data,
        in_force_on=form.in_force_on.data, confidential=bool(form.confidential.data), notes=form.notes.data or "")


@bp.route("/new", methods=["GET", "POST"])
@p.require(REGISTRY_MANAGE)
def create():  # type: ignore[no-untyped-def]
    form = _edit_form()
    if request.method == "GET" and request.args.get("state", "").isdigit():
        form.state.data = request.args["state"]
    if form.validate_on_submit():
        with saving(form) as attempt:
            agreement = services.create(db.session, _data(form), _user(), request_actor(), _today())
        if attempt.saved:
            flash(_("The agreement was recorded."), "success")
            return redirect(url_for("agreements.show", agreement_id=agreement.id))
    return render_template("agreements/edit.html", form=form, agreement=None), \
        (400 if request.method == "POST" else 200)


@bp.route("/<int:agreement_id>/edit", methods=["GET", "POST"])
@p.require(REGISTRY_MANAGE)
def edit(agreement_id: int):  # type: ignore[no-untyped-def]
    agreement = _readable(agreement_id)
    form = _edit_form(agreement)
    if form.validate_on_submit():
        with saving(form) as attempt:
            changed = services.update(db.session, agreement, _data(form), _user(), request_actor(), _today())
        if attempt.saved:
            flash(_("The agreement was updated.") if changed else _("Nothing was changed."), "success")
            return redirect(url_for("agreements.show", agreement_id=agreement_id))
    return render_template("agreements/edit.html", form=form, agreement=agreement), \
        (400 if request.method == "POST" else 200)


@bp.route("/<int:agreement_id>/delete", methods=["GET", "POST"])
@p.require(REGISTRY_MANAGE)
def delete(agreement_id: int):  # type: ignore[no-untyped-def]
    agreement = _readable(agreement_id)
    form = ConfirmDeleteForm()
    if form.validate_on_submit():
        stored = services.delete(db.session, agreement, request_actor())
        db.session.commit()
        for name in stored:
            documents.discard(name)
        flash(_("The agreement was deleted."), "success")
        return redirect(url_for("agreements.index"))
    return render_template("agreements/delete.html", form=form, agreement=agreement, locale=_locale()), \
        (400 if request.method == "POST" else 200)


@bp.post("/<int:agreement_id>/files")
@p.require(REGISTRY_MANAGE)
def add_file(agreement_id: int):  # type: ignore[no-untyped-def]
    agreement = _readable(agreement_id)
    form = FileUploadForm()
    upload = request.files.get("file")
    stored = ""
    try:
        if not form.validate_on_submit():
            return _show_with_errors(agreement, form)
        if upload is not None and upload.filename:
            item = services.add_file(db.session, agreement, form.title.data or "", upload.stream, upload.filename,
                                     _user(), request_actor())
            stored = item.stored_name
        elif form.url.data:
            services.add_link(db.session, agreement, form.title.data or "", form.url.data, _user(),
                              request_actor())
        else:
            form.file.errors = [_("Choose a file, or enter a link.")]
            return _show_with_errors(agreement, form)
        db.session.commit()
    except (documents.DocumentRefused, services.Invalid) as exc:
        db.session.rollback()
        if stored:
            documents.discard(stored)
        field = form.url if form.url.data and not (upload and upload.filename) else form.file
        if isinstance(exc, services.Invalid) and exc.field == "title":
            field = form.title
        field.errors = [str(exc)]
        return _show_with_errors(agreement, form)
    except BaseException:
        db.session.rollback()
        if stored:
            documents.discard(stored)
        raise
    finally:
        if upload is not None:
            upload.close()
    flash(_("The document was added."), "success")
    return redirect(url_for("agreements.show", agreement_id=agreement_id, _anchor="documents"))


def _show_with_errors(agreement: Agreement, form: FileUploadForm):  # type: ignore[no-untyped-def]
    return render_template("agreements/show.html", agreement=agreement, upload_form=form,
                           can_manage=True, locale=_locale(),
                           max_mib=documents.MAX_BYTES // (1024 * 1024)), 400


@bp.post("/<int:agreement_id>/files/<int:file_id>/delete")
@p.require(REGISTRY_MANAGE)
def delete_file(agreement_id: int, file_id: int):  # type: ignore[no-untyped-def]
    agreement = _readable(agreement_id)
    try:
        item = services.agreement_file(agreement, file_id)
    except services.NotFound:
        abort(404)
    if not ConfirmDeleteForm().validate_on_submit():
        abort(400)
    stored = services.remove_file(db.session, agreement, item, request_actor())
    db.session.commit()
    if stored:
        documents.discard(stored)
    flash(_("The document was removed."), "success")
    return redirect(url_for("agreements.show", agreement_id=agreement_id, _anchor="documents"))
