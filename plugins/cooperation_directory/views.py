"""Directory pages: search and export for every member; editing for the State's focal point
(own State), the Registry editor (the Registry) and the Secretariat (any State, the Court).
Another party's entry is a 404 for editing. A Court organ's page is at the same address as a
State's (/directory/states/ICC-REG): one page, one set of rules."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from wtforms.fields.choices import SelectChoice

from cooperation import permissions as p
from cooperation.accounts.models import User
from cooperation.audit.context import request_actor
from cooperation.audit.service import record
from cooperation.extensions import db
from cooperation.membership.models import Party, RegionalGroup
from cooperation_directory import export, services
from cooperation_directory.forms import (
    COURT_GROUP,
    COURT_LABEL,
    REGIONAL_GROUP_LABELS,
    TOPIC_LABELS,
    ConfirmForm,
    ContactForm,
    DeleteForm,
    FilterForm,
)
from cooperation_directory.models import ContactPoint, Topic
from cooperation_directory.permissions import CONTACTS_MANAGE, CONTACTS_READ

bp = Blueprint("directory", __name__, template_folder="templates")
PAGE_SIZE = 100


@bp.context_processor
def _labels() -> dict[str, object]:
    return {"topic_labels": TOPIC_LABELS, "group_labels": REGIONAL_GROUP_LABELS, "Topic": Topic,
            "court_label": COURT_LABEL}


def _user() -> User:
    return current_user._get_current_object()  # type: ignore[attr-defined,no-any-return]


def _locale() -> str:
    return str(get_locale() or "en")


def _filter_form() -> tuple[FilterForm, services.Filters | None]:
    form = FilterForm(request.args)
    locale = _locale()
    groups = ((_("States"), services.states(db.session)),
              (_("The Court"), services.court_organs(db.session)))
    form.state.choices = [SelectChoice("", _("All States and the Court")),
                          *(SelectChoice(party.code, party.name(locale), optgroup=label)
                            for label, parties in groups for party in parties)]
    if not form.validate():
        return form, None
    group = form.group.data or ""
    return form, services.Filters(
        text=form.q.data or "",
        regional_group=RegionalGroup(group) if group and group != COURT_GROUP else None,
        court_only=group == COURT_GROUP,
        state_code=form.state.data or "",
        topic=Topic(form.topic.data) if form.topic.data else None,
        to_confirm_only=bool(form.to_confirm.data),
    )


# -- reading ---------------------------------------------------------------------------------------

@bp.get("/")
@p.require(CONTACTS_READ)
def index():  # type: ignore[no-untyped-def]
    form, filters = _filter_form()
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    contacts: list[ContactPoint] = []
    total = 0
    if filters is not None:
        contacts, total = services.search(db.session, filters, limit=PAGE_SIZE,
                                          offset=(page - 1) * PAGE_SIZE)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    # Links to a State's (or Court organ's) page, which is also where its first entry is added.
    chosen = services.party_by_code(db.session, filters.state_code) \
        if filters and filters.state_code else None
    own = _user().party if services.in_directory(_user().party) else None
    return render_template("directory/index.html", form=form, contacts=contacts, total=total,
                           page=page, page_args=args, has_next=page * PAGE_SIZE < total,
                           chosen_state=chosen, own_state=own), \
        (200 if filters is not None else 400)


@bp.get("/export.csv")
@p.require(CONTACTS_READ)
def export_csv():  # type: ignore[no-untyped-def]
    form, filters = _filter_form()
    if filters is None:
        from cooperation.errors import render_error

        return render_error(400)
    contacts, total = services.search(db.session, filters)
    # Exports of personal contact data are traced, like the audit log's own export.
    record(db.session, "directory.contact.export", request_actor(), target_type="directory",
           details={**filters.audit_summary(), "count": total})
    body = "".join(export.rows(contacts, _locale()))
    db.session.commit()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="contact-points-{stamp}.csv"',
        "Cache-Control": "no-store"})


@bp.get("/states/<code>")
@p.require(CONTACTS_READ)
def state(code: str):  # type: ignore[no-untyped-def]
    party = services.party_by_code(db.session, code)
    if party is None:
        abort(404)
    return _render_state(party, ConfirmForm())


def _render_state(party: Party, confirm_form: ConfirmForm,  # type: ignore[no-untyped-def]
                  status: int = 200):
    contacts = services.contacts_of(db.session, party)
    by_topic = {topic: [c for c in contacts if c.topic == topic] for topic in Topic}
    return render_template("directory/state.html", party=party, by_topic=by_topic,
                           contacts=contacts, confirm_form=confirm_form,
                           can_manage=services.can_manage(_user(), party),
                           locale=_locale()), status


# -- managing --------------------------------------------------------------------------------------

def _data(form: ContactForm) -> services.ContactData:
    return services.ContactData(
        topic=Topic(form.topic.data), authority=form.authority.data, email=form.email.data,
        person_name=form.person_name.data or "", position=form.position.data or "",
        phone=form.phone.data or "", languages=form.languages.data or "",
        secure_channel=form.secure_channel.data or "", urgent_phone=form.urgent_phone.data or "",
        urgent_email=form.urgent_email.data or "", urgent_hours=form.urgent_hours.data or "",
        notes=form.notes.data or "")


@bp.route("/states/<code>/contacts/new", methods=["GET", "POST"])
@p.require(CONTACTS_MANAGE)
def create(code: str):  # type: ignore[no-untyped-def]
    try:
        party = services.manageable_party(db.session, _user(), code)
    except services.NotAllowed:
        abort(404)
    form = ContactForm()
    if form.validate_on_submit():
        try:
            services.create(db.session, _user(), party, _data(form), request_actor())
            db.session.commit()
        except services.NotAllowed:
            db.session.rollback()
            abort(404)
        flash(_("The contact point was added."), "success")
        return redirect(url_for("directory.state", code=party.code))
    return render_template("directory/edit.html", form=form, party=party, contact=None), \
        (400 if request.method == "POST" else 200)


@bp.route("/contacts/<int:contact_id>/edit", methods=["GET", "POST"])
@p.require(CONTACTS_MANAGE)
def edit(contact_id: int):  # type: ignore[no-untyped-def]
    try:
        contact = services.manageable_contact(db.session, _user(), contact_id)
    except services.NotAllowed:
        abort(404)
    form = ContactForm(obj=contact)
    if request.method == "GET":
        form.topic.data = contact.topic.value
    if form.validate_on_submit():
        party_code = contact.party.code
        try:
            changed = services.update(db.session, _user(), contact, _data(form), request_actor())
            db.session.commit()
        except services.NotAllowed:
            db.session.rollback()
            abort(404)
        message = _("The contact point was updated.") if changed else _("Nothing was changed.")
        flash(message, "success")
        return redirect(url_for("directory.state", code=party_code))
    page = render_template("directory/edit.html", form=form, party=contact.party, contact=contact)
    return page, (400 if request.method == "POST" else 200)


@bp.route("/contacts/<int:contact_id>/delete", methods=["GET", "POST"])
@p.require(CONTACTS_MANAGE)
def delete(contact_id: int):  # type: ignore[no-untyped-def]
    try:
        contact = services.manageable_contact(db.session, _user(), contact_id)
    except services.NotAllowed:
        abort(404)
    form = DeleteForm()
    if form.validate_on_submit():
        party_code = contact.party.code
        try:
            services.delete(db.session, _user(), contact, request_actor())
            db.session.commit()
        except services.NotAllowed:
            db.session.rollback()
            abort(404)
        flash(_("The contact point was deleted."), "success")
        return redirect(url_for("directory.state", code=party_code))
    return render_template("directory/delete.html", form=form, contact=contact), \
        (400 if request.method == "POST" else 200)


@bp.post("/states/<code>/confirm")
@p.require(CONTACTS_MANAGE)
def confirm(code: str):  # type: ignore[no-untyped-def]
    try:
        party = services.manageable_party(db.session, _user(), code)
    except services.NotAllowed:
        abort(404)
    form = ConfirmForm()
    if not form.validate_on_submit():
        return _render_state(party, form, 400)
    try:
        count = services.confirm_current(db.session, _user(), party, request_actor())
        db.session.commit()
    except services.NothingToConfirm:
        db.session.rollback()
        form.confirm.errors = [_("There are no entries to confirm yet. Add a contact point first.")]
        return _render_state(party, form, 400)
    except services.NotAllowed:
        db.session.rollback()
        abort(404)
    flash(ngettext("Thank you: %(num)d entry is confirmed as current.",
                   "Thank you: %(num)d entries are confirmed as current.", count), "success")
    return redirect(url_for("directory.state", code=party.code))
