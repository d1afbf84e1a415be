"""Membership administration (Secretariat) and State user management (focal points).

Thin views: validate the form, call a service, commit once; on a refused change roll back and
show the form again with the reason (HTTP 400). Objects outside the caller's State are a 404.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from werkzeug.wrappers import Response

from cooperation import permissions as p
from cooperation.accounts import services as accounts
from cooperation.accounts.models import User, UserStatus
from cooperation.audit.context import request_actor
from cooperation.audit.service import record
from cooperation.extensions import db
from cooperation.i18n import current_locale
from cooperation.mail import MailError
from cooperation.membership import services
from cooperation.membership.forms import (
    ConfirmForm,
    InvitationFilterForm,
    InviteForm,
    RoleForm,
    StateCreateForm,
    StateEditForm,
    StateFilterForm,
    StateInviteForm,
    StatusForm,
    UserFilterForm,
    choice,
)
from cooperation.membership.models import Party, PartyKind, PartyStatus, RegionalGroup
from cooperation.permissions import Role

bp = Blueprint("membership", __name__)
PAGE_SIZE = 50

ADMIN_STATUSES = (UserStatus.SUSPENDED, UserStatus.ACTIVE, UserStatus.DEACTIVATED)
FOCAL_POINT_STATUSES = (UserStatus.SUSPENDED, UserStatus.ACTIVE)

Rendered = tuple[str, int] | Response


def _labels() -> dict[str, Any]:
    return {
        "role_labels": accounts.ROLE_LABELS,
        "status_labels": accounts.STATUS_LABELS,
        "group_labels": services.GROUP_LABELS,
        "party_status_labels": services.PARTY_STATUS_LABELS,
        "invitation_state_labels": services.INVITATION_STATE_LABELS,
    }


def _render(template: str, status: int = 200, **context: Any) -> tuple[str, int]:
    return render_template(template, **_labels(), **context), status


def _bad_request() -> int:
    return 400 if request.method == "POST" else 200


# == Secretariat: States and organisations =========================================================


@bp.get("/admin/membership")
@p.require(p.MEMBERSHIP_ADMIN)
def admin_index():  # type: ignore[no-untyped-def]
    form = StateFilterForm(request.args)
    states: list[Party] = []
    if form.validate():
        states = services.list_states(
            db.session,
            group=RegionalGroup(form.group.data) if form.group.data else None,
            status=PartyStatus(form.status.data) if form.status.data else None,
            search=form.q.data or "",
        )
    return _render(
        "membership/admin_index.html",
        form=form,
        states=states,
        organisations=services.list_organisations(db.session),
        status=200 if not form.errors else 400,
    )


@bp.route("/admin/membership/states/new", methods=["GET", "POST"])
@p.require(p.MEMBERSHIP_ADMIN)
def create_state():  # type: ignore[no-untyped-def]
    form = StateCreateForm()
    if form.validate_on_submit():
        try:
            party = services.create_state(
                db.session,
                code=form.code.data,
                name_en=form.name_en.data,
                name_fr=form.name_fr.data,
                regional_group=RegionalGroup(form.regional_group.data),
                actor=request_actor(),
            )
            db.session.commit()
        except services.MembershipError as exc:
            db.session.rollback()
            form[exc.field or "code"].errors = [str(exc)]
        else:
            flash(_("%(name)s was added.", name=party.name(current_locale())), "success")
            return redirect(url_for("membership.admin_index"))
    return _render("membership/state_form.html", _bad_request(), form=form, party=None)


@bp.route("/admin/membership/states/<int:party_id>", methods=["GET", "POST"])
@p.require(p.MEMBERSHIP_ADMIN)
def edit_state(party_id: int):  # type: ignore[no-untyped-def]
    party = db.session.get(Party, party_id)
    if party is None or party.kind != PartyKind.STATE:
        abort(404)
    form = StateEditForm(obj=party if request.method == "GET" else None)
    if request.method == "GET":
        form.regional_group.data = party.regional_group.value if party.regional_group else None
        form.status.data = party.status.value
    if form.validate_on_submit():
        try:
            ended = services.update_state(
                db.session,
                party,
                name_en=form.name_en.data,
                name_fr=form.name_fr.data,
                regional_group=RegionalGroup(form.regional_group.data),
                status=PartyStatus(form.status.data),
                actor=request_actor(),
                reason=form.reason.data or "",
            )
            db.session.commit()
        except services.MembershipError as exc:
            db.session.rollback()
            form[exc.field or "name_en"].errors = [str(exc)]
        else:
            message = _("%(name)s was saved.", name=party.name(current_locale()))
            if ended:
                message += " " + ngettext("%(num)d open session of its users was ended.",
                                          "%(num)d open sessions of its users were ended.", ended)
            flash(message, "success")
            return redirect(url_for("membership.admin_index"))
    return _render("membership/state_form.html", _bad_request(), form=form, party=party)


# == Secretariat: users ============================================================================


@bp.get("/admin/membership/users")
@p.require(p.MEMBERSHIP_ADMIN)
def admin_users():  # type: ignore[no-untyped-def]
    form = UserFilterForm(request.args)
    form.party.choices = [choice("", _("Any State or organisation"))] + [
        choice(str(party.id), f"{party.code} · {party.name(current_locale())}")
        for party in services.all_parties(db.session)
    ]
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    rows: list[User] = []
    if form.validate():
        rows = services.list_users(
            db.session,
            current_user,
            party_id=int(form.party.data) if form.party.data else None,
            role=form.role.data or None,
            status=form.status.data or None,
            search=form.q.data or "",
            limit=PAGE_SIZE + 1,
            offset=(page - 1) * PAGE_SIZE,
        )
    args = {k: v for k, v in request.args.items() if k != "page"}
    return _render(
        "membership/admin_users.html",
        200 if not form.errors else 400,
        form=form,
        users=rows[:PAGE_SIZE],
        page=page,
        has_next=len(rows) > PAGE_SIZE,
        page_args=args,
    )


def _scoped_user(user_id: int) -> User:
    user = services.user_in_scope(db.session, current_user, user_id)
    if user is None:
        abort(404)
    return user


def _user_page(
    user: User,
    *,
    admin: bool,
    role_form: RoleForm | None = None,
    status_form: StatusForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    statuses = ADMIN_STATUSES if admin else FOCAL_POINT_STATUSES
    return _render(
        "membership/user_detail.html",
        status,
        user=user,
        admin=admin,
        manageable=accounts.can_manage(current_user, user),
        role_form=(
            role_form
            or RoleForm(accounts.allowed_roles(user.party), prefix="role", role=user.role.value)
        )
        if admin
        else None,
        status_form=status_form or StatusForm(statuses, prefix="status"),
        events=services.recent_events_for_user(db.session, user.id) if admin else [],
        back=url_for("membership.admin_users" if admin else "membership.state_users"),
    )


@bp.get("/admin/membership/users/<int:user_id>")
@p.require(p.MEMBERSHIP_ADMIN)
def admin_user(user_id: int):  # type: ignore[no-untyped-def]
    return _user_page(_scoped_user(user_id), admin=True)


@bp.post("/admin/membership/users/<int:user_id>/role")
@p.require(p.MEMBERSHIP_ADMIN)
def admin_user_role(user_id: int):  # type: ignore[no-untyped-def]
    user = _scoped_user(user_id)
    form = RoleForm(accounts.allowed_roles(user.party), prefix="role")
    if form.validate_on_submit():
        try:
            accounts.change_role(
                db.session, current_user, user, Role(form.role.data), request_actor()
            )
            db.session.commit()
        except accounts.AccountError as exc:
            db.session.rollback()
            form.role.errors = [str(exc)]
        else:
            flash(
                _(
                    "The role of %(name)s is now %(role)s.",
                    name=user.full_name,
                    role=accounts.ROLE_LABELS[user.role],
                ),
                "success",
            )
            return redirect(url_for("membership.admin_user", user_id=user.id))
    return _user_page(_scoped_user(user_id), admin=True, role_form=form, status=400)


def _change_status(user_id: int, *, admin: bool) -> Rendered:
    user = _scoped_user(user_id)
    form = StatusForm(ADMIN_STATUSES if admin else FOCAL_POINT_STATUSES, prefix="status")
    if form.validate_on_submit():
        try:
            accounts.set_status(
                db.session,
                current_user,
                user,
                UserStatus(form.status.data),
                request_actor(),
                reason=form.reason.data or "",
            )
            db.session.commit()
        except accounts.AccountError as exc:
            db.session.rollback()
            form.status.errors = [str(exc)]
        else:
            flash(
                _(
                    "%(name)s: %(status)s.",
                    name=user.full_name,
                    status=accounts.STATUS_LABELS[user.status],
                ),
                "success",
            )
            target = "membership.admin_user" if admin else "membership.state_user"
            return redirect(url_for(target, user_id=user.id))
    return _user_page(_scoped_user(user_id), admin=admin, status_form=form, status=400)


@bp.post("/admin/membership/users/<int:user_id>/status")
@p.require(p.MEMBERSHIP_ADMIN)
def admin_user_status(user_id: int):  # type: ignore[no-untyped-def]
    return _change_status(user_id, admin=True)


# == Invitations (shared by both audiences) ========================================================


def _issue(form: InviteForm | StateInviteForm, party: Party | None, role: Role) -> tuple[bool, int]:
    """Create and mail the invitation. Returns (done, HTTP status if not done)."""
    if party is None or party.status != PartyStatus.ACTIVE:
        form.party.errors = [_("Choose an active State or organisation.")]  # type: ignore[union-attr]
        return False, 400
    allowed = accounts.allowed_roles(party)
    if role not in allowed:
        form.role.errors = [
            _(
                "A user of %(party)s can only be: %(roles)s.",
                party=party.name(current_locale()),
                roles=", ".join(str(accounts.ROLE_LABELS[r]) for r in allowed),
            )
        ]
        return False, 400
    try:
        accounts.create_invitation(
            db.session,
            email=form.email.data,
            full_name=form.full_name.data,
            party=party,
            role=role,
            inviter=current_user,
            actor=request_actor(),
        )
        db.session.commit()
    except accounts.AccountError as exc:
        db.session.rollback()
        form.email.errors = [str(exc)]
        return False, 400
    except MailError:
        db.session.rollback()
        # Nothing of the invitation is kept; the failed attempt itself is on the record.
        record(
            db.session,
            "invitation.create",
            request_actor(),
            outcome="failure",
            target_type="party",
            target_id=party.id,
            details={
                "email": accounts.normalise_email(form.email.data),
                "reason": "mail server unavailable",
            },
        )
        db.session.commit()
        form.email.errors = [
            _(
                "The invitation could not be sent: the mail server did not answer. "
                "Nothing was saved. Please try again later."
            )
        ]
        return False, 503
    return True, 200


@bp.route("/admin/membership/invitations", methods=["GET", "POST"])
@p.require(p.MEMBERSHIP_ADMIN)
def admin_invitations():  # type: ignore[no-untyped-def]
    form = InviteForm()
    form.party.choices = [choice("", _("Choose…"))] + [
        choice(str(party.id), f"{party.code} · {party.name(current_locale())}")
        for party in services.all_parties(db.session)
        if party.status == PartyStatus.ACTIVE
    ]
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            done, status = _issue(
                form, db.session.get(Party, int(form.party.data)), Role(form.role.data)
            )
            if done:
                flash(_("The invitation was sent to %(email)s.", email=form.email.data), "success")
                return redirect(url_for("membership.admin_invitations"))
    filters = InvitationFilterForm(request.args)
    rows = services.list_invitations(
        db.session, current_user, state=filters.state.data if filters.validate() else ""
    )
    return _render(
        "membership/admin_invitations.html",
        status,
        form=form,
        filters=filters,
        rows=rows,
    )


def _revoke(invitation_id: int, back: str) -> Response:
    invitation = services.invitation_in_scope(db.session, current_user, invitation_id)
    if invitation is None:
        abort(404)
    form = ConfirmForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        accounts.revoke_invitation(db.session, invitation, request_actor())
        db.session.commit()
    except accounts.AccountError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        flash(_("The invitation to %(email)s was revoked.", email=invitation.email), "success")
    return redirect(url_for(back))


@bp.post("/admin/membership/invitations/<int:invitation_id>/revoke")
@p.require(p.MEMBERSHIP_ADMIN)
def admin_revoke_invitation(invitation_id: int):  # type: ignore[no-untyped-def]
    return _revoke(invitation_id, "membership.admin_invitations")


# == State focal point: their own State's users ====================================================


@bp.get("/my-state/users")
@p.require(p.STATE_USERS_MANAGE)
def state_users():  # type: ignore[no-untyped-def]
    return _render(
        "membership/state_users.html",
        users=services.list_users(db.session, current_user, limit=1000),
        rows=services.list_invitations(db.session, current_user),
    )


@bp.route("/my-state/users/invite", methods=["GET", "POST"])
@p.require(p.STATE_USERS_MANAGE)
def state_invite():  # type: ignore[no-untyped-def]
    form = StateInviteForm()
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            done, status = _issue(form, current_user.party, Role(form.role.data))
            if done:
                flash(_("The invitation was sent to %(email)s.", email=form.email.data), "success")
                return redirect(url_for("membership.state_users"))
    return _render("membership/state_invite.html", status, form=form)


@bp.get("/my-state/users/<int:user_id>")
@p.require(p.STATE_USERS_MANAGE)
def state_user(user_id: int):  # type: ignore[no-untyped-def]
    return _user_page(_scoped_user(user_id), admin=False)


@bp.post("/my-state/users/<int:user_id>/status")
@p.require(p.STATE_USERS_MANAGE)
def state_user_status(user_id: int):  # type: ignore[no-untyped-def]
    return _change_status(user_id, admin=False)


@bp.post("/my-state/invitations/<int:invitation_id>/revoke")
@p.require(p.STATE_USERS_MANAGE)
def state_revoke_invitation(invitation_id: int):  # type: ignore[no-untyped-def]
    return _revoke(invitation_id, "membership.state_users")
