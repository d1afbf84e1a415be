"""Registry of voluntary cooperation agreements: who sees which entry, the figures per regional
group, and audited changes.

Visibility of an entry: the Court (Registry, Office of the Prosecutor) sees every entry; a
State's users see their own State's entries and every non-confidential one; the Secretariat
sees the non-confidential ones. Anything else answers 404. The figures per regional group count
every entry, confidential ones included -- aggregates per group are what the Court itself
publishes (e.g. "relocation agreements with 13 States Parties, including three in 2013, with
African States", ICC-ASP/12/35 para. 30) -- and they are never broken down by State.
Services never commit; audit details carry ids, kinds and field names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from datetime import date
from typing import IO

from flask_babel import gettext as _
from sqlalchemy import ColumnElement, Select, false, func, or_, select, true
from sqlalchemy.orm import Session

from cooperation.accounts.models import User
from cooperation.audit.service import Actor, record
from cooperation.db import assign_changed, utcnow
from cooperation.membership.models import Party, PartyKind, PartyStatus, RegionalGroup
from cooperation.permissions import has_permission
from cooperation.refusals import FieldRefusal
from cooperation_agreements import documents
from cooperation_agreements.models import (
    CONCLUDED,
    Agreement,
    AgreementFile,
    AgreementForm,
    AgreementKind,
    AgreementStatus,
)
from cooperation_agreements.permissions import CONFIDENTIAL_READ


class NotFound(LookupError):
    """Missing or not visible to this user (the views answer 404)."""


class Invalid(FieldRefusal):
    pass


# -- visibility ------------------------------------------------------------------------------------

def sees_all(user: User) -> bool:
    return has_permission(CONFIDENTIAL_READ, user)


def _visible(user: User) -> ColumnElement[bool]:
    if sees_all(user):
        return true()
    own = Agreement.party_id == user.party_id if user.party.is_state else false()
    return or_(Agreement.confidential.is_(False), own)


@dataclass(frozen=True)
class Filters:
    kind: AgreementKind | None = None
    status: AgreementStatus | None = None
    regional_group: RegionalGroup | None = None
    state_code: str = ""

    def audit_summary(self) -> dict[str, str]:
        return {"kind": self.kind.value if self.kind else "", "status": self.status.value if self.status else "",
                "regional_group": self.regional_group.value if self.regional_group else "",
                "state": self.state_code}


def search_statement(user: User, filters: Filters) -> Select[tuple[Agreement]]:
    stmt = select(Agreement).join(Agreement.party).where(_visible(user))
    if filters.kind:
        stmt = stmt.where(Agreement.kind == filters.kind)
    if filters.status:
        stmt = stmt.where(Agreement.status == filters.status)
    if filters.regional_group:
        stmt = stmt.where(Party.regional_group == filters.regional_group)
    if filters.state_code:
        stmt = stmt.where(Party.code == filters.state_code.upper())
    return stmt.order_by(Party.name_en, Agreement.kind, Agreement.id)


def search(session: Session, user: User, filters: Filters) -> list[Agreement]:
    return list(session.scalars(search_statement(user, filters)).unique())


def readable(session: Session, user: User, agreement_id: int) -> Agreement:
    found = session.scalar(select(Agreement).where(Agreement.id == agreement_id, _visible(user)))
    if found is None:
        raise NotFound(agreement_id)
    return found


def agreement_file(agreement: Agreement, file_id: int) -> AgreementFile:
    found = next((f for f in agreement.files if f.id == file_id), None)
    if found is None:
        raise NotFound(file_id)
    return found


def states(session: Session) -> list[Party]:
    return list(session.scalars(select(Party).where(Party.kind == PartyKind.STATE).order_by(Party.name_en)))


# -- figures per regional group --------------------------------------------------------------------

@dataclass
class Cell:
    concluded: int = 0  # States with a signed or in-force agreement of this kind
    in_force: int = 0
    under_discussion: int = 0


@dataclass
class GroupFigures:
    group: RegionalGroup
    states: int  # active States Parties in the group
    cells: dict[AgreementKind, Cell] = field(default_factory=dict)


def figures(session: Session) -> list[GroupFigures]:
    """Per regional group and kind: how many States have concluded an agreement (signed or in
    force), how many have one in force, how many are discussing one -- each State counted once
    per kind, whatever the number of its agreements. Withdrawn States are left out."""
    counts = dict(session.execute(
        select(Party.regional_group, func.count(Party.id))
        .where(Party.kind == PartyKind.STATE, Party.status != PartyStatus.WITHDRAWN)
        .group_by(Party.regional_group)).tuples().all())
    out = {g: GroupFigures(g, counts.get(g, 0), {k: Cell() for k in AgreementKind}) for g in RegionalGroup}
    rows = session.execute(
        select(Party.regional_group, Agreement.kind, Agreement.party_id, Agreement.status)
        .join(Agreement.party)
        .where(Party.kind == PartyKind.STATE, Party.status != PartyStatus.WITHDRAWN,
               Party.regional_group.is_not(None))).tuples().all()
    best: dict[tuple[RegionalGroup, AgreementKind, int], set[AgreementStatus]] = {}
    for group, kind, party_id, status in rows:
        best.setdefault((group, kind, party_id), set()).add(status)
    for (group, kind, _party), statuses in best.items():
        cell = out[group].cells[kind]
        if statuses & set(CONCLUDED):
            cell.concluded += 1
            if AgreementStatus.IN_FORCE in statuses:
                cell.in_force += 1
        elif AgreementStatus.UNDER_DISCUSSION in statuses:
            cell.under_discussion += 1
    return [out[g] for g in RegionalGroup]


def totals(groups: Iterable[GroupFigures]) -> dict[AgreementKind, Cell]:
    result = {k: Cell() for k in AgreementKind}
    for group in groups:
        for kind, cell in group.cells.items():
            result[kind].concluded += cell.concluded
            result[kind].in_force += cell.in_force
            result[kind].under_discussion += cell.under_discussion
    return result


# -- changes ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class AgreementData:
    party_id: int
    kind: AgreementKind
    status: AgreementStatus
    form: AgreementForm = AgreementForm.FRAMEWORK
    title: str = ""
    discussions_started_on: date | None = None
    signed_on: date | None = None
    in_force_on: date | None = None
    confidential: bool = True
    notes: str = ""

    def normalised(self) -> AgreementData:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values["title"] = values["title"].strip()
        values["notes"] = values["notes"].strip()
        return AgreementData(**values)


def _check(session: Session, data: AgreementData, today: date) -> None:
    party = session.get(Party, data.party_id)
    if party is None or not party.is_state:
        raise Invalid("state", _("Choose the State from the list."))
    for name in ("discussions_started_on", "signed_on"):
        value = getattr(data, name)
        if value is not None and value > today:
            raise Invalid(name, _("This date cannot be in the future."))
    if data.status == AgreementStatus.UNDER_DISCUSSION and (data.signed_on or data.in_force_on):
        raise Invalid("status", _("An agreement with a date of signature or of entry into force is no longer "
                                  "under discussion: choose “signed” or “in force”."))
    if data.status == AgreementStatus.IN_FORCE:
        if data.in_force_on is None:
            raise Invalid("in_force_on", _("Enter the date of entry into force."))
        if data.in_force_on > today:
            raise Invalid("in_force_on", _("The agreement enters into force later: record it as signed "
                                           "until then."))
    if data.signed_on and data.in_force_on and data.in_force_on < data.signed_on:
        raise Invalid("in_force_on", _("An agreement cannot enter into force before it is signed."))
    if data.discussions_started_on and data.signed_on and data.signed_on < data.discussions_started_on:
        raise Invalid("signed_on", _("The signature cannot come before the discussions started."))


def create(session: Session, data: AgreementData, user: User, actor: Actor, today: date) -> Agreement:
    data = data.normalised()
    _check(session, data, today)
    now = utcnow()
    agreement = Agreement(**asdict(data), created_at=now, updated_at=now, updated_by_id=user.id)
    session.add(agreement)
    session.flush()
    record(session, "agreements.agreement.create", actor, target_type="agreements_agreement",
           target_id=agreement.id, details={"party_id": agreement.party_id, "kind": agreement.kind.value,
                                            "status": agreement.status.value,
                                            "confidential": agreement.confidential})
    return agreement


def update(session: Session, agreement: Agreement, data: AgreementData, user: User, actor: Actor,
           today: date) -> list[str]:
    data = data.normalised()
    _check(session, data, today)
    changed = assign_changed(agreement, asdict(data))
    if not changed:
        return changed
    agreement.updated_at = utcnow()
    agreement.updated_by_id = user.id
    session.flush()
    record(session, "agreements.agreement.update", actor, target_type="agreements_agreement",
           target_id=agreement.id, details={"party_id": agreement.party_id, "fields": sorted(changed),
                                            "status": agreement.status.value})
    return changed


def delete(session: Session, agreement: Agreement, actor: Actor) -> list[str]:
    """Delete the entry and its documents' rows; returns the stored files to remove once the
    transaction has committed."""
    stored = [f.stored_name for f in agreement.files if f.stored_name]
    details = {"party_id": agreement.party_id, "kind": agreement.kind.value, "files": len(agreement.files)}
    agreement_id = agreement.id
    session.delete(agreement)
    session.flush()
    record(session, "agreements.agreement.delete", actor, target_type="agreements_agreement",
           target_id=agreement_id, details=details)
    return stored


def add_file(session: Session, agreement: Agreement, title: str, stream: IO[bytes], filename: str,
             user: User, actor: Actor) -> AgreementFile:
    """Check and store an upload. The caller discards the stored file if the commit fails."""
    title = title.strip() or documents.safe_name(filename)
    checked = documents.check(stream, filename)
    stored_name = documents.store(checked)
    item = AgreementFile(agreement_id=agreement.id, title=title[:200], stored_name=stored_name,
                         original_name=checked.original_name, content_type=checked.content_type,
                         size=len(checked.data), sha256=checked.sha256, added_at=utcnow(), added_by_id=user.id)
    session.add(item)
    session.flush()
    record(session, "agreements.file.add", actor, target_type="agreements_file", target_id=item.id,
           details={"agreement_id": agreement.id, "size": item.size, "sha256": item.sha256,
                    "content_type": item.content_type})
    return item


def add_link(session: Session, agreement: Agreement, title: str, url: str, user: User,
             actor: Actor) -> AgreementFile:
    title = title.strip()
    if not title:
        raise Invalid("title", _("Give the document a title."))
    url = documents.check_link(url)
    item = AgreementFile(agreement_id=agreement.id, title=title[:200], url=url, added_at=utcnow(),
                         added_by_id=user.id)
    session.add(item)
    session.flush()
    record(session, "agreements.file.add", actor, target_type="agreements_file", target_id=item.id,
           details={"agreement_id": agreement.id, "link": True})
    return item


def remove_file(session: Session, agreement: Agreement, item: AgreementFile, actor: Actor) -> str:
    """Delete the row; returns the stored name to remove once the transaction has committed."""
    stored, item_id = item.stored_name, item.id
    agreement.files.remove(item)
    session.flush()
    record(session, "agreements.file.delete", actor, target_type="agreements_file", target_id=item_id,
           details={"agreement_id": agreement.id})
    return stored
