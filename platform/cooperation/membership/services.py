"""States Parties and organisations (seeding, administration) and the scoped listing of users and
invitations for the Secretariat (every Party) and a State focal point (their own State only)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cooperation.accounts.models import Invitation, User
from cooperation.audit.models import AuditEvent
from cooperation.audit.service import Actor, record
from cooperation.db import utcnow
from cooperation.membership.models import (
    OrganisationType,
    Party,
    PartyKind,
    PartyStatus,
    RegionalGroup,
)
from cooperation.permissions import MEMBERSHIP_ADMIN, has_permission
from cooperation.security.sessions import end_sessions_of

ORGANISATIONS: tuple[dict[str, Any], ...] = (
    {
        "code": "ICC-REG",
        "name_en": "International Criminal Court — Registry",
        "name_fr": "Cour pénale internationale — Greffe",
        "organisation_type": OrganisationType.REGISTRY,
    },
    {
        "code": "ICC-OTP",
        "name_en": "International Criminal Court — Office of the Prosecutor",
        "name_fr": "Cour pénale internationale — Bureau du Procureur",
        "organisation_type": OrganisationType.PROSECUTOR,
    },
    {
        "code": "ASP-SEC",
        "name_en": "Secretariat of the Assembly of States Parties",
        "name_fr": "Secrétariat de l'Assemblée des États Parties",
        "organisation_type": OrganisationType.SECRETARIAT,
    },
)


def states_data() -> list[dict[str, Any]]:
    text = (
        resources.files("cooperation.membership")
        .joinpath("data/states_parties.json")
        .read_text("utf-8")
    )
    return list(json.loads(text)["states"])


def ensure_organisations(session: Session) -> None:
    for org in ORGANISATIONS:
        if session.scalar(select(Party).where(Party.code == org["code"])) is None:
            session.add(Party(kind=PartyKind.ORGANISATION, status=PartyStatus.ACTIVE, **org))
    session.flush()


def import_states(session: Session) -> int:
    """Add the States Parties of the shipped file that are not there yet; never overwrite edits."""
    existing = set(session.scalars(select(Party.code)))
    added = 0
    for item in states_data():
        if item["code"] in existing:
            continue
        session.add(
            Party(
                kind=PartyKind.STATE,
                code=item["code"],
                name_en=item["name_en"],
                name_fr=item["name_fr"],
                regional_group=RegionalGroup(item["regional_group"]),
                status=PartyStatus(item.get("status", "active")),
            )
        )
        added += 1
    session.flush()
    return added


# -- administration (Secretariat) -----------------------------------------------------------------
ISO_ALPHA3 = re.compile(r"^[A-Z]{3}$")
MAX_NAME = 200

GROUP_LABELS = {
    RegionalGroup.AFRICAN: _l("African States"),
    RegionalGroup.ASIA_PACIFIC: _l("Asia-Pacific States"),
    RegionalGroup.EASTERN_EUROPEAN: _l("Eastern European States"),
    RegionalGroup.GRULAC: _l("Latin American and Caribbean States"),
    RegionalGroup.WEOG: _l("Western European and other States"),
}

PARTY_STATUS_LABELS = {
    PartyStatus.ACTIVE: _l("Active"),
    PartyStatus.SUSPENDED: _l("Suspended"),
    PartyStatus.WITHDRAWN: _l("Withdrawn"),
}


class MembershipError(ValueError):
    """A refused membership change, safe to show; `field` names the input at fault."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def normalise_code(code: str) -> str:
    return (code or "").strip().upper()


def _check_names(name_en: str, name_fr: str) -> tuple[str, str]:
    name_en, name_fr = (name_en or "").strip(), (name_fr or "").strip()
    if not name_en:
        raise MembershipError(_("Enter the English name."), "name_en")
    if not name_fr:
        raise MembershipError(_("Enter the French name."), "name_fr")
    if len(name_en) > MAX_NAME or len(name_fr) > MAX_NAME:
        raise MembershipError(
            _("A name may have at most %(n)d characters.", n=MAX_NAME),
            "name_en" if len(name_en) > MAX_NAME else "name_fr",
        )
    return name_en, name_fr


def list_states(
    session: Session,
    *,
    group: RegionalGroup | None = None,
    status: PartyStatus | None = None,
    search: str = "",
) -> list[Party]:
    stmt = select(Party).where(Party.kind == PartyKind.STATE)
    if group is not None:
        stmt = stmt.where(Party.regional_group == group)
    if status is not None:
        stmt = stmt.where(Party.status == status)
    term = search.strip().lower()
    if term:
        like = f"%{_escape_like(term)}%"
        stmt = stmt.where(
            or_(
                func.lower(Party.name_en).like(like, escape="\\"),
                func.lower(Party.name_fr).like(like, escape="\\"),
                func.lower(Party.code).like(like, escape="\\"),
            )
        )
    return list(session.scalars(stmt.order_by(Party.name_en)))


def list_organisations(session: Session) -> list[Party]:
    return list(
        session.scalars(
            select(Party).where(Party.kind == PartyKind.ORGANISATION).order_by(Party.name_en)
        )
    )


def all_parties(session: Session) -> list[Party]:
    """Organisations first, then States by name: the order of every Party select."""
    return list(session.scalars(select(Party).order_by(Party.kind.desc(), Party.name_en)))


def create_state(
    session: Session,
    *,
    code: str,
    name_en: str,
    name_fr: str,
    regional_group: RegionalGroup,
    actor: Actor,
) -> Party:
    code = normalise_code(code)
    if not ISO_ALPHA3.match(code):
        raise MembershipError(
            _(
                "The code must be the ISO 3166-1 alpha-3 code of the State: three letters "
                "A to Z, for example NLD."
            ),
            "code",
        )
    if session.scalar(select(Party.id).where(func.upper(Party.code) == code)) is not None:
        raise MembershipError(
            _("A State or organisation with the code %(code)s already exists.", code=code), "code"
        )
    name_en, name_fr = _check_names(name_en, name_fr)
    party = Party(
        kind=PartyKind.STATE,
        code=code,
        name_en=name_en,
        name_fr=name_fr,
        regional_group=RegionalGroup(regional_group),
        status=PartyStatus.ACTIVE,
    )
    session.add(party)
    session.flush()
    record(
        session,
        "party.create",
        actor,
        target_type="party",
        target_id=party.id,
        details={"party": code, "name_en": name_en, "regional_group": party.regional_group.value},
    )
    return party


def update_state(
    session: Session,
    party: Party,
    *,
    name_en: str,
    name_fr: str,
    regional_group: RegionalGroup,
    status: PartyStatus,
    actor: Actor,
    reason: str = "",
) -> int:
    """Edit a State. Leaving the active status signs every user of the State out; returns how many
    sessions ended."""
    if not party.is_state:
        raise MembershipError(_("Only States can be edited here."))
    name_en, name_fr = _check_names(name_en, name_fr)
    regional_group, status = RegionalGroup(regional_group), PartyStatus(status)
    changes: dict[str, object] = {}
    for attr, new in (
        ("name_en", name_en),
        ("name_fr", name_fr),
        ("regional_group", regional_group),
    ):
        old = getattr(party, attr)
        if old != new:
            changes[attr] = {"from": getattr(old, "value", old), "to": getattr(new, "value", new)}
            setattr(party, attr, new)
    if changes:
        record(
            session,
            "party.update",
            actor,
            target_type="party",
            target_id=party.id,
            details={"party": party.code, "changes": changes},
        )
    ended = 0
    if status != party.status:
        previous = party.status
        party.status = status
        if status != PartyStatus.ACTIVE:
            # The loader already refuses users of an inactive State; deleting their sessions
            # also frees them at once and leaves nothing to resume if the State is reactivated.
            for user_id in session.scalars(select(User.id).where(User.party_id == party.id)):
                ended += end_sessions_of(session, user_id)
        record(
            session,
            "party.status",
            actor,
            target_type="party",
            target_id=party.id,
            details={
                "party": party.code,
                "from": previous.value,
                "to": status.value,
                "sessions_ended": ended,
                "reason": reason.strip()[:500],
            },
        )
    session.flush()
    return ended


def _escape_like(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# -- users and invitations, scoped to who is asking -----------------------------------------------


def _scope_party_id(manager: User) -> int | None:
    """None: every Party (Secretariat). Otherwise the only Party the manager may see."""
    return None if has_permission(MEMBERSHIP_ADMIN, manager) else int(manager.party_id)


def list_users(
    session: Session,
    manager: User,
    *,
    party_id: int | None = None,
    role: str | None = None,
    status: str | None = None,
    search: str = "",
    limit: int = 50,
    offset: int = 0,
) -> list[User]:
    stmt = select(User)
    scope = _scope_party_id(manager)
    if scope is not None:
        stmt = stmt.where(User.party_id == scope)
    if party_id is not None:
        stmt = stmt.where(User.party_id == party_id)
    if role:
        stmt = stmt.where(User.role == role)
    if status:
        stmt = stmt.where(User.status == status)
    term = search.strip().lower()
    if term:
        like = f"%{_escape_like(term)}%"
        stmt = stmt.where(
            or_(
                func.lower(User.full_name).like(like, escape="\\"),
                User.email.like(like, escape="\\"),
            )
        )
    return list(session.scalars(stmt.order_by(User.full_name, User.id).limit(limit).offset(offset)))


def user_in_scope(session: Session, manager: User, user_id: int) -> User | None:
    """The user if the manager may see them; None (shown as 404) for another State's user."""
    user = session.get(User, user_id)
    scope = _scope_party_id(manager)
    if user is None or (scope is not None and user.party_id != scope):
        return None
    return user


def recent_events_for_user(session: Session, user_id: int, limit: int = 20) -> list[AuditEvent]:
    """What was done to this user and what they did, newest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(
                or_(
                    AuditEvent.actor_id == user_id,
                    (AuditEvent.target_type == "user") & (AuditEvent.target_id == str(user_id)),
                )
            )
            .order_by(AuditEvent.seq.desc())
            .limit(limit)
        )
    )


class InvitationState:
    OPEN = "open"
    EXPIRED = "expired"
    ACCEPTED = "accepted"
    REVOKED = "revoked"


INVITATION_STATE_LABELS = {
    InvitationState.OPEN: _l("Open"),
    InvitationState.EXPIRED: _l("Expired"),
    InvitationState.ACCEPTED: _l("Accepted"),
    InvitationState.REVOKED: _l("Revoked"),
}


@dataclass(frozen=True)
class InvitationRow:
    invitation: Invitation
    state: str

    @property
    def is_open(self) -> bool:
        return self.state == InvitationState.OPEN


def invitation_state(invitation: Invitation, now: datetime) -> str:
    if invitation.accepted_at is not None:
        return InvitationState.ACCEPTED
    if invitation.revoked_at is not None:
        return InvitationState.REVOKED
    return InvitationState.OPEN if now < invitation.expires_at else InvitationState.EXPIRED


def list_invitations(
    session: Session, manager: User, *, state: str = "", limit: int = 200
) -> list[InvitationRow]:
    now = utcnow()
    stmt = select(Invitation)
    scope = _scope_party_id(manager)
    if scope is not None:
        stmt = stmt.where(Invitation.party_id == scope)
    if state == InvitationState.ACCEPTED:
        stmt = stmt.where(Invitation.accepted_at.is_not(None))
    elif state == InvitationState.REVOKED:
        stmt = stmt.where(Invitation.accepted_at.is_(None), Invitation.revoked_at.is_not(None))
    elif state == InvitationState.OPEN:
        stmt = stmt.where(
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > now,
        )
    elif state == InvitationState.EXPIRED:
        stmt = stmt.where(
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at <= now,
        )
    rows = session.scalars(
        stmt.order_by(Invitation.created_at.desc(), Invitation.id.desc()).limit(limit)
    )
    return [InvitationRow(inv, invitation_state(inv, now)) for inv in rows]


def invitation_in_scope(session: Session, manager: User, invitation_id: int) -> Invitation | None:
    invitation = session.get(Invitation, invitation_id)
    scope = _scope_party_id(manager)
    if invitation is None or (scope is not None and invitation.party_id != scope):
        return None
    return invitation
