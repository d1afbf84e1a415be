"""Case law and guidance: readers' pages (every role), the editors' workspace (Registry editors)
and the Atom feed (a per-user token, since feed readers cannot sign in).

Thin views: validate the form, call a service, commit once; a refused action rolls back and
shows the form again with the reason (HTTP 400). Unpublished items are a 404 for readers.
"""

from __future__ import annotations


from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import format_number, get_locale
from flask_babel import gettext as _
from flask_login import current_user

from cooperation import permissions as p
from cooperation.audit.context import request_actor
from cooperation.audit.service import record
from cooperation.caselaw import feeds, render, search, services, taxonomy
from cooperation.caselaw.forms import (
    ApproveForm,
    CompareForm,
    ConfirmForm,
    EditItemForm,
    ItemForm,
    RestoreForm,
    ReturnForm,
    SearchForm,
    WithdrawForm,
)
from cooperation.caselaw.models import CaselawItem, CaselawVersion
from cooperation.caselaw.services import CaselawError, Content
from cooperation.caselaw.taxonomy import ItemKind, ItemStatus, Language
from cooperation.db import utcnow
from cooperation.extensions import db

bp = Blueprint("caselaw", __name__)
PAGE_SIZE = 20


def _locale() -> str:
    return str(get_locale() or "en")


def _labels() -> dict[str, Any]:
    return {
        "kind_labels": taxonomy.KIND_LABELS,
        "status_labels": taxonomy.STATUS_LABELS,
        "guidance_kind_labels": taxonomy.GUIDANCE_KIND_LABELS,
        "topic_labels": taxonomy.TOPIC_LABELS,
        "chamber_labels": taxonomy.CHAMBER_LABELS,
        "language_labels": taxonomy.LANGUAGE_LABELS,
        "article_by_code": taxonomy.article_by_code,
        "markdown": render.render,
        "item_url": item_url,
        "format_number": format_number,
        "locale": _locale(),
    }


def _render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(template, **_labels(), **context), status


def item_url(item: CaselawItem, external: bool = False) -> str:
    endpoint = "caselaw.explainer" if item.kind == ItemKind.EXPLAINER else "caselaw.guidance"
    return url_for(endpoint, slug=item.slug, _external=external)


def _is_editor() -> bool:
    return p.has_permission(p.CASELAW_EDIT)


# == Readers ======================================================================================


@bp.get("/caselaw")
@p.require(p.CASELAW_READ)
def index():  # type: ignore[no-untyped-def]
    now = utcnow()
    form = SearchForm(request.args)
    form.set_choices(_locale())
    previous = services.record_visit(db.session, current_user, now)
    db.session.commit()
    fresh = services.new_since(db.session, previous, now)
    results = None
    status = 200
    if form.validate():
        page = form.page.data or 1
        query = search.SearchQuery(
            text=form.q.data or "", topic=form.topic.data or "", article=form.article.data or "",
            chamber=form.chamber.data or "", year=form.year.data, kind=form.kind.data or "",
            language=form.language.data or "", limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        results = search.search(db.session, query, now)
    else:
        status = 400
    searching = any(request.args.get(k) for k in ("q", "topic", "article", "chamber", "year", "kind", "language"))
    return _render("caselaw/index.html", status, form=form, results=results, fresh=fresh, previous=previous,
                   searching=searching, page=(form.page.data or 1) if not form.errors else 1,
                   page_size=PAGE_SIZE)


@bp.get("/guidance")
@p.require(p.CASELAW_READ)
def guidance_index():  # type: ignore[no-untyped-def]
    return redirect(url_for("caselaw.index", kind=ItemKind.GUIDANCE.value))


@bp.get("/caselaw/articles")
@p.require(p.CASELAW_READ)
def by_article():  # type: ignore[no-untyped-def]
    counts = services.facet_counts(db.session, utcnow(), facets=("articles",))
    return _render("caselaw/by_article.html", articles=taxonomy.articles(), counts=counts["articles"])


@bp.get("/caselaw/chambers")
@p.require(p.CASELAW_READ)
def by_chamber():  # type: ignore[no-untyped-def]
    counts = services.facet_counts(db.session, utcnow(), facets=("chambers",))
    return _render("caselaw/by_chamber.html", counts=counts["chambers"])


@bp.get("/caselaw/years")
@p.require(p.CASELAW_READ)
def by_year():  # type: ignore[no-untyped-def]
    counts = services.facet_counts(db.session, utcnow(), facets=("years",))
    return _render("caselaw/by_year.html", counts=dict(sorted(counts["years"].items(), reverse=True)))


def _reader_page(slug: str, kind: ItemKind):  # type: ignore[no-untyped-def]
    now = utcnow()
    found = services.visible_item(db.session, slug, now)
    if found is None:
        item = services.item_by_slug(db.session, slug)
        if item is not None and _is_editor():
            # Editors reach unpublished items through their workspace (preview, workflow).
            return redirect(url_for("caselaw.editor_item", item_id=item.id))
        abort(404)
    item, version = found
    if item.kind != kind:
        return redirect(item_url(item), code=301)
    languages = services.language_versions(db.session, item, now)
    mine = next((lv for lv in languages if lv.item.id == item.id), None)
    source = next((lv for lv in languages if lv.item.id == item.translation_of_id), None)
    return _render("caselaw/item.html", item=item, version=version, languages=languages,
                   outdated=bool(mine and mine.outdated), source=source,
                   links=services.links(db.session, item, version, now))


@bp.get("/caselaw/<slug>")
@p.require(p.CASELAW_READ)
def explainer(slug: str):  # type: ignore[no-untyped-def]
    return _reader_page(slug, ItemKind.EXPLAINER)


@bp.get("/guidance/<slug>")
@p.require(p.CASELAW_READ)
def guidance(slug: str):  # type: ignore[no-untyped-def]
    return _reader_page(slug, ItemKind.GUIDANCE)


# -- the feed ------------------------------------------------------------------------------------


@bp.get("/caselaw/feed-token")
@p.require(p.CASELAW_READ)
def feed_token():  # type: ignore[no-untyped-def]
    return _render("caselaw/feed_token.html", token=services.active_feed_token(db.session, current_user),
                   new_url=None, form=ConfirmForm())


@bp.post("/caselaw/feed-token")
@p.require(p.CASELAW_READ)
def feed_token_issue():  # type: ignore[no-untyped-def]
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    raw = services.issue_feed_token(db.session, current_user, actor=request_actor())
    db.session.commit()
    # Shown once, on this response only: we keep nothing but its hash.
    return _render("caselaw/feed_token.html", token=services.active_feed_token(db.session, current_user),
                   new_url=url_for("caselaw.feed", token=raw, _external=True), form=ConfirmForm())


@bp.post("/caselaw/feed-token/revoke")
@p.require(p.CASELAW_READ)
def feed_token_revoke():  # type: ignore[no-untyped-def]
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        services.revoke_feed_token(db.session, current_user, actor=request_actor())
        db.session.commit()
    except CaselawError as exc:
        db.session.rollback()
        flash(str(exc), "error")
        return _render("caselaw/feed_token.html", 400, token=None, new_url=None, form=ConfirmForm())
    flash(_("Your feed address was revoked: feed readers using it no longer receive anything."), "success")
    return redirect(url_for("caselaw.feed_token"))


@bp.get("/caselaw/feed.atom")
@p.public
def feed():  # type: ignore[no-untyped-def]
    """Public on purpose, guarded by its own credential: feed readers cannot sign in with a
    password and an authenticator, so the URL carries a per-user random token (256 bits, stored
    hashed, revocable). An unknown, revoked or suspended user's token gets the same 404 as a
    missing page. The response is no-store like every page; the token is never logged."""
    now = utcnow()
    user = services.user_for_feed_token(db.session, request.args.get("token", ""), now)
    if user is None:
        db.session.rollback()
        abort(404)
    entries = services.feed_entries(db.session, now)
    body = feeds.build_feed(entries, title=_("Case law and guidance on cooperation"),
                            index_url=url_for("caselaw.index", _external=True),
                            item_url=lambda item: item_url(item, external=True), now=now)
    db.session.commit()
    return Response(body, mimetype="application/atom+xml")


# == Editors =====================================================================================


def _editor_item(item_id: int) -> CaselawItem:
    item = db.session.get(CaselawItem, item_id)
    if item is None:
        abort(404)
    return item


def _content(form: ItemForm) -> Content:
    return Content(
        title=form.title.data or "", document_number=form.document_number.data or "",
        chamber=form.chamber.data or "", decision_date=form.decision_date.data,
        situation=form.situation.data or "", case_name=form.case_name.data or "",
        guidance_kind=form.guidance_kind.data or "", holding=form.holding.data or "",
        practice=form.practice.data or "", body=form.body.data or "",
        decision_url=form.decision_url.data or "", topics=tuple(form.topics.data or ()),
        articles=tuple(form.articles.data or ()), related_ids=tuple(form.related_ids.data or ()),
    )


def _fill(form: ItemForm, version: CaselawVersion | None) -> None:
    if version is None:
        return
    content = Content.of(version)
    for name in ("title", "document_number", "chamber", "decision_date", "situation", "case_name",
                 "guidance_kind", "holding", "practice", "body", "decision_url"):
        getattr(form, name).data = getattr(content, name)
    form.topics.data = list(content.topics)
    form.articles.data = list(content.articles)
    form.related_ids.data = list(content.related_ids)


def _preview(form: ItemForm) -> dict[str, Any]:
    return {"holding": render.render(form.holding.data or ""), "practice": render.render(form.practice.data or ""),
            "body": render.render(form.body.data or "")}


@bp.get("/editor/caselaw")
@p.require(p.CASELAW_EDIT)
def editor_index():  # type: ignore[no-untyped-def]
    wanted = request.args.get("status", "")
    status = ItemStatus(wanted) if wanted in {s.value for s in ItemStatus} else None
    items = services.editor_items(db.session, status=status)
    return _render("caselaw/editor/index.html", items=items, status=status, now=utcnow(),
                   bad_filter=bool(wanted) and status is None)


@bp.route("/editor/caselaw/new", methods=["GET", "POST"])
@p.require(p.CASELAW_EDIT)
def editor_new():  # type: ignore[no-untyped-def]
    source: CaselawItem | None = None
    source_id = request.args.get("translation_of", type=int)
    if source_id is not None:
        source = _editor_item(source_id)
    kind = source.kind if source else (ItemKind.GUIDANCE if request.args.get("kind") == "guidance"
                                       else ItemKind.EXPLAINER)
    form = ItemForm()
    form.set_choices(_locale(), services.relatable_items(db.session))
    if request.method == "GET" and source is not None:
        _fill(form, source.current_version)
        form.language.data = next((lang.value for lang in Language if lang != source.language), "fr")
    preview = None
    if form.validate_on_submit():
        if request.form.get("action") == "preview":
            preview = _preview(form)
        else:
            try:
                item = services.create_item(
                    db.session, kind=kind, language=Language(form.language.data), slug=form.slug.data,
                    content=_content(form), author=current_user, actor=request_actor(), translation_of=source,
                    note=form.note.data or "")
                db.session.commit()
            except CaselawError as exc:
                db.session.rollback()
                _field_error(form, exc)
            else:
                flash(_("The draft was saved as version 1."), "success")
                return redirect(url_for("caselaw.editor_item", item_id=item.id))
    status = 400 if request.method == "POST" and form.errors else 200
    return _render("caselaw/editor/form.html", status, form=form, kind=kind, item=None, source=source,
                   preview=preview)


def _field_error(form: ItemForm, exc: CaselawError) -> None:
    name = exc.field if exc.field and exc.field in form else "title"
    form[name].errors = [*form[name].errors, str(exc)]  # type: ignore[index]


@bp.get("/editor/caselaw/<int:item_id>")
@p.require(p.CASELAW_EDIT)
def editor_item(item_id: int):  # type: ignore[no-untyped-def]
    return _item_page(_editor_item(item_id))


def _item_page(item: CaselawItem, status: int = 200, **forms: Any) -> tuple[str, int]:
    now = utcnow()
    current = item.current_version
    published = services.version(db.session, item, item.published_version_number)
    pending_authors = services.authors_of_pending(db.session, item)
    return _render(
        "caselaw/editor/item.html", status, item=item, version=current, published=published, now=now,
        languages=services.language_versions(db.session, item, now, include_hidden=True),
        may_approve=current_user.id not in pending_authors,
        missing_languages=[lang for lang in Language if lang.value not in
                           {lv.item.language.value for lv in
                            services.language_versions(db.session, item, now, include_hidden=True)}],
        confirm_form=forms.get("confirm_form") or ConfirmForm(),
        approve_form=forms.get("approve_form") or ApproveForm(),
        return_form=forms.get("return_form") or ReturnForm(),
        withdraw_form=forms.get("withdraw_form") or WithdrawForm(),
        error=forms.get("error"),
    )


@bp.route("/editor/caselaw/<int:item_id>/edit", methods=["GET", "POST"])
@p.require(p.CASELAW_EDIT)
def editor_edit(item_id: int):  # type: ignore[no-untyped-def]
    item = _editor_item(item_id)
    form = EditItemForm()
    form.set_choices(_locale(), services.relatable_items(db.session, exclude_id=item.id))
    if request.method == "GET":
        _fill(form, item.current_version)
    preview = None
    if form.validate_on_submit():
        if request.form.get("action") == "preview":
            preview = _preview(form)
        else:
            try:
                saved = services.save_item(db.session, item, _content(form), author=current_user,
                                           actor=request_actor(), note=form.note.data or "")
                db.session.commit()
            except CaselawError as exc:
                db.session.rollback()
                _field_error(form, exc)
            else:
                if saved is None:
                    flash(_("Nothing was changed, so no new version was made."), "info")
                else:
                    flash(_("Saved as version %(n)d (draft).", n=saved.number), "success")
                return redirect(url_for("caselaw.editor_item", item_id=item.id))
    status = 400 if request.method == "POST" and form.errors else 200
    return _render("caselaw/editor/form.html", status, form=form, kind=item.kind, item=item, source=None,
                   preview=preview)


def _workflow(item_id: int, form_name: str, form: Any, action: Any, success: str):  # type: ignore[no-untyped-def]
    item = _editor_item(item_id)
    if not form.validate_on_submit():
        return _item_page(item, 400, **{form_name: form})
    try:
        action(item, form)
        db.session.commit()
    except CaselawError as exc:
        db.session.rollback()
        if exc.denied:
            action_name, details = exc.denied
            record(db.session, action_name, request_actor(), target_type=services.TARGET, target_id=item_id,
                   outcome="denied", details=details)
            db.session.commit()
        item = _editor_item(item_id)
        if exc.field and exc.field in form:
            form[exc.field].errors = [*form[exc.field].errors, str(exc)]
        return _item_page(item, 400, **{form_name: form}, error=str(exc))
    flash(success, "success")
    return redirect(url_for("caselaw.editor_item", item_id=item_id))


@bp.post("/editor/caselaw/<int:item_id>/submit")
@p.require(p.CASELAW_EDIT)
def editor_submit(item_id: int):  # type: ignore[no-untyped-def]
    return _workflow(item_id, "confirm_form", ConfirmForm(), lambda item, _f: services.submit_for_review(
        db.session, item, user=current_user, actor=request_actor()),
        _("Sent for review: another Registry editor can now approve it."))


@bp.post("/editor/caselaw/<int:item_id>/approve")
@p.require(p.CASELAW_EDIT)
def editor_approve(item_id: int):  # type: ignore[no-untyped-def]
    return _workflow(item_id, "approve_form", ApproveForm(), lambda item, f: services.approve(
        db.session, item, user=current_user, actor=request_actor(), publish_at=f.publish_at_utc()),
        _("Approved: readers see this version from its publication time."))


@bp.post("/editor/caselaw/<int:item_id>/return")
@p.require(p.CASELAW_EDIT)
def editor_return(item_id: int):  # type: ignore[no-untyped-def]
    return _workflow(item_id, "return_form", ReturnForm(), lambda item, f: services.return_to_draft(
        db.session, item, user=current_user, actor=request_actor(), note=f.note.data or ""),
        _("Sent back to draft with your note."))


@bp.post("/editor/caselaw/<int:item_id>/withdraw")
@p.require(p.CASELAW_EDIT)
def editor_withdraw(item_id: int):  # type: ignore[no-untyped-def]
    return _workflow(item_id, "withdraw_form", WithdrawForm(), lambda item, f: services.withdraw(
        db.session, item, user=current_user, actor=request_actor(), reason=f.reason.data or ""),
        _("Withdrawn: readers no longer see this item."))


@bp.get("/editor/caselaw/<int:item_id>/history")
@p.require(p.CASELAW_EDIT)
def editor_history(item_id: int):  # type: ignore[no-untyped-def]
    item = _editor_item(item_id)
    history = services.versions(db.session, item)
    compare = CompareForm(request.args)
    status = 200
    lines = None
    old = new = None
    if request.args and not compare.validate():
        status = 400
    elif history:
        a = compare.a.data or (history[1].number if len(history) > 1 else history[0].number)
        b = compare.b.data or history[0].number
        old = services.version(db.session, item, a)
        new = services.version(db.session, item, b)
        if old is None or new is None:
            (compare.a if old is None else compare.b).errors = [_("This version does not exist.")]
            status = 400
        else:
            compare.a.data, compare.b.data = a, b
            lines = services.diff(db.session, old, new)
    return _render("caselaw/editor/history.html", status, item=item, history=history, compare=compare,
                   lines=lines, old=old, new=new, restore_form=RestoreForm(),
                   authors=services.author_names(db.session, history))


@bp.post("/editor/caselaw/<int:item_id>/restore")
@p.require(p.CASELAW_EDIT)
def editor_restore(item_id: int):  # type: ignore[no-untyped-def]
    item = _editor_item(item_id)
    form = RestoreForm()
    error = None
    if form.validate_on_submit():
        try:
            new = services.restore(db.session, item, form.version.data, user=current_user, actor=request_actor())
            db.session.commit()
        except CaselawError as exc:
            db.session.rollback()
            error = str(exc)
        else:
            flash(_("Version %(old)d was restored as version %(new)d (draft).", old=form.version.data,
                    new=new.number), "success")
            return redirect(url_for("caselaw.editor_item", item_id=item.id))
    item = _editor_item(item_id)
    history = services.versions(db.session, item)
    if error:
        form.version.errors = [*form.version.errors, error]
    return _render("caselaw/editor/history.html", 400, item=item, history=history, compare=CompareForm(),
                   lines=None, old=None, new=None, restore_form=form,
                   authors=services.author_names(db.session, history))


