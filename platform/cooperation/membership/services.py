"""States Parties and organisations: seeding from the shipped data file, and edits."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cooperation.membership.models import OrganisationType, Party, PartyKind, PartyStatus, RegionalGroup

ORGANISATIONS: tuple[dict[str, Any], ...] = (
    {"code": "ICC-REG", "name_en": "International Criminal Court — Registry",
     "name_fr": "Cour pénale internationale — Greffe", "organisation_type": OrganisationType.REGISTRY},
    {"code": "ICC-OTP", "name_en": "International Criminal Court — Office of the Prosecutor",
     "name_fr": "Cour pénale internationale — Bureau du Procureur",
     "organisation_type": OrganisationType.PROSECUTOR},
    {"code": "ASP-SEC", "name_en": "Secretariat of the Assembly of States Parties",
     "name_fr": "Secrétariat de l'Assemblée des États Parties",
     "organisation_type": OrganisationType.SECRETARIAT},
)


def states_data() -> list[dict[str, Any]]:
    text = resources.files("cooperation.membership").joinpath("data/states_parties.json").read_text("utf-8")
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
        session.add(Party(kind=PartyKind.STATE, code=item["code"], name_en=item["name_en"],
                          name_fr=item["name_fr"], regional_group=RegionalGroup(item["regional_group"]),
                          status=PartyStatus(item.get("status", "active"))))
        added += 1
    session.flush()
    return added
