"""Directory logic: whose entries it holds, who may manage which, search, and audited changes.

The directory holds the entries of the States and of the Court's organs that receive and send
cooperation requests: the Registry and the Office of the Prosecutor (e.g. their joint address
for information on the travel of persons subject to an arrest warrant, Report of the Court on
cooperation 2016, para. 59). Not the Secretariat of the Assembly: it neither sends nor executes
cooperation requests, and an urgent arrest-and-surrender channel listed under it would send
States to the wrong door (it sees no travel report either).

Every member reads every entry (the directory exists so that States and the Court can reach one
another). Changes are scoped: a State's focal point manages only its own State's entries, the
Registry editor only the Registry's (the role that administers the Registry elsewhere too), the
Secretariat any State's and the Court's (the Office of the Prosecutor has no administering role:
its entries are kept by the Secretariat, which administers its accounts as well). Court members
manage nothing, as State members. Anything else looks like a missing page (the views return 404).
Services never commit; audit details carry ids and field names, never contact data.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session

from cooperation.accounts.models import User
from cooperation.audit.service import Actor, record
from cooperation.db import utcnow
from cooperation.membership.models import OrganisationType, Party, PartyKind, RegionalGroup
from cooperation.permissions import Role
from cooperation_directory.models import CONFIRMATION_VALID_FOR, ContactPoint, Topic


# The Court's organs with entries in the directory (see the module's docstring).
COURT_ORGANS = (OrganisationType.REGISTRY, OrganisationType.PROSECUTOR)


class NothingToConfirm(ValueError):
    """The State (or organ) has no entries, so there is nothing to confirm."""


class NotAllowed(LookupError):
    """The user may not manage this party's entries; shown as 404 (no existence oracle)."""


@dataclass(frozen=True)
class ContactData:
    """The editable content of an entry, validated by the form."""

    topic: Topic
    authority: str
    email: str
    person_name: str = ""
    position: str = ""
    phone: str = ""
    languages: str = ""
    secure_channel: str = ""
    urgent_phone: str = ""
    urgent_email: str = ""
    urgent_hours: str = ""
    notes: str = ""

    def normalised(self) -> ContactData:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for name, value in values.items():
            if isinstance(value, str) and not isinstance(value, Topic):
                values[name] = value.strip()
        values["email"] = values["email"].lower()
        values["urgent_email"] = values["urgent_email"].lower()
        return ContactData(**values)


@dataclass(frozen=True)
class Filters:
    text: str = ""
    regional_group: RegionalGroup | None = None
    court_only: bool = False  # the "The Court" group: the Court's organs (no regional group)
    state_code: str = ""  # a State's or a Court organ's code
    topic: Topic | None = None
    to_confirm_only: bool = False

    def audit_summary(self) -> dict[str, object]:
        """What was filtered on, without the free text (it may be a person's name)."""
        group = self.regional_group.value if self.regional_group else ""
        return {"regional_group": "court" if self.court_only else group,
                "state": self.state_code, "topic": self.topic.value if self.topic else "",
                "text_search": bool(self.text), "to_confirm_only": self.to_confirm_only}


# -- scoping ---------------------------------------------------------------------------------------

def is_court_organ(party: Party) -> bool:
    return party.kind == PartyKind.ORGANISATION and party.organisation_type in COURT_ORGANS


def in_directory(party: Party) -> bool:
    return party.is_state or is_court_organ(party)


def _court_clause():  # type: ignore[no-untyped-def]
    return and_(Party.kind == PartyKind.ORGANISATION, Party.organisation_type.in_(COURT_ORGANS))


def can_manage(user: User, party: Party) -> bool:
    if not in_directory(party):
        return False
    if user.role == Role.SECRETARIAT_ADMIN:
        return True
    if user.party_id != party.id:
        return False
    if party.is_state:
        return user.role == Role.STATE_FOCAL_POINT
    return (user.role == Role.REGISTRY_EDITOR
            and party.organisation_type == OrganisationType.REGISTRY)


def states(session: Session) -> list[Party]:
    return list(session.scalars(select(Party).where(Party.kind == PartyKind.STATE)
                                .order_by(Party.name_en)))


def court_organs(session: Session) -> list[Party]:
    return list(session.scalars(select(Party).where(_court_clause()).order_by(Party.name_en)))


def party_by_code(session: Session, code: str) -> Party | None:
    """A State or a Court organ with entries in the directory; None for anything else."""
    return session.scalar(select(Party).where(or_(Party.kind == PartyKind.STATE, _court_clause()),
                                              Party.code == code.upper()))


def manageable_party(session: Session, user: User, code: str) -> Party:
    party = party_by_code(session, code)
    if party is None or not can_manage(user, party):
        raise NotAllowed(code)
    return party


def manageable_contact(session: Session, user: User, contact_id: int) -> ContactPoint:
    contact = session.get(ContactPoint, contact_id)
    if contact is None or not can_manage(user, contact.party):
        raise NotAllowed(contact_id)
    return contact


# -- reading ---------------------------------------------------------------------------------------

def _stale_clause(now: datetime):  # type: ignore[no-untyped-def]
    return or_(ContactPoint.last_confirmed_at.is_(None),
               ContactPoint.last_confirmed_at < now - CONFIRMATION_VALID_FOR)


def search_statement(filters: Filters, now: datetime | None = None) -> Select[tuple[ContactPoint]]:
    stmt = select(ContactPoint).join(ContactPoint.party)
    if filters.regional_group:
        stmt = stmt.where(Party.regional_group == filters.regional_group)
    if filters.court_only:
        stmt = stmt.where(_court_clause())
    if filters.state_code:
        stmt = stmt.where(Party.code == filters.state_code.upper())
    if filters.topic:
        stmt = stmt.where(ContactPoint.topic == filters.topic)
    text = filters.text.strip().lower()
    if text:
        # Case-insensitive on both backends; LIKE wildcards in the input match literally.
        stmt = stmt.where(or_(func.lower(ContactPoint.authority).contains(text, autoescape=True),
                              func.lower(ContactPoint.person_name).contains(text, autoescape=True)))
    if filters.to_confirm_only:
        stmt = stmt.where(_stale_clause(now or utcnow()))
    # The States in alphabetical order, then the Court's organs.
    after_states = case((Party.kind == PartyKind.STATE, 0), else_=1)
    return stmt.order_by(after_states, Party.name_en, ContactPoint.topic, ContactPoint.authority,
                         ContactPoint.id)


def search(session: Session, filters: Filters, *, limit: int | None = None, offset: int = 0
           ) -> tuple[list[ContactPoint], int]:
    stmt = search_statement(filters)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    if limit is not None:
        stmt = stmt.limit(limit).offset(offset)
    return list(session.scalars(stmt).unique()), total


def contacts_of(session: Session, party: Party) -> list[ContactPoint]:
    stmt = (select(ContactPoint).where(ContactPoint.party_id == party.id)
            .order_by(ContactPoint.topic, ContactPoint.authority, ContactPoint.id))
    return list(session.scalars(stmt))


# -- changes ---------------------------------------------------------------------------------------

def create(session: Session, user: User, party: Party, data: ContactData, actor: Actor
           ) -> ContactPoint:
    if not can_manage(user, party):
        raise NotAllowed(party.code)
    now = utcnow()
    # Whoever enters the data states it is current as of now.
    contact = ContactPoint(party_id=party.id, created_at=now, updated_at=now, last_confirmed_at=now,
                           updated_by_id=user.id, **asdict(data.normalised()))
    session.add(contact)
    session.flush()
    record(session, "directory.contact.create", actor, target_type="directory_contact_point",
           target_id=contact.id, details={"party_id": party.id, "topic": contact.topic.value})
    return contact


def update(session: Session, user: User, contact: ContactPoint, data: ContactData, actor: Actor
           ) -> list[str]:
    """Apply the changes; returns the names of the fields that changed (nothing is recorded
    when nothing changed)."""
    if not can_manage(user, contact.party):
        raise NotAllowed(contact.id)
    changed = []
    for name, value in asdict(data.normalised()).items():
        if getattr(contact, name) != value:
            setattr(contact, name, value)
            changed.append(name)
    if not changed:
        return changed
    now = utcnow()
    contact.updated_at = now
    contact.last_confirmed_at = now
    contact.updated_by_id = user.id
    session.flush()
    record(session, "directory.contact.update", actor, target_type="directory_contact_point",
           target_id=contact.id, details={"party_id": contact.party_id, "fields": sorted(changed)})
    return changed


def delete(session: Session, user: User, contact: ContactPoint, actor: Actor) -> None:
    if not can_manage(user, contact.party):
        raise NotAllowed(contact.id)
    details = {"party_id": contact.party_id, "topic": contact.topic.value}
    contact_id = contact.id
    session.delete(contact)
    session.flush()
    record(session, "directory.contact.delete", actor, target_type="directory_contact_point",
           target_id=contact_id, details=details)


def confirm_current(session: Session, user: User, party: Party, actor: Actor) -> int:
    """A manager confirms that all of the party's (State's or Court organ's) entries are current."""
    if not can_manage(user, party):
        raise NotAllowed(party.code)
    contacts = contacts_of(session, party)
    if not contacts:
        raise NothingToConfirm(party.code)
    now = utcnow()
    for contact in contacts:
        contact.last_confirmed_at = now
    session.flush()
    record(session, "directory.contact.confirm", actor, target_type="party", target_id=party.id,
           details={"contact_ids": [c.id for c in contacts]})
    return len(contacts)
