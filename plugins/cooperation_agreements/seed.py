"""Demo data for `seed-demo` (never in production), through the plugin contract's hook.

The public entries follow the Court's reports on cooperation: the framework agreements on the
enforcement of sentences listed in ICC-ASP/12/35 para. 35 (Austria, the United Kingdom, Belgium,
Denmark, Finland, Serbia, Mali; Colombia's not yet in force in 2013) and Norway's, in force in
August 2016 (the Court's 2016 report, para. 49); the interim-release agreement under negotiation
with Belgium (ICC-ASP/12/35 para. 39). Their dates are left empty rather than guessed. Relocation
agreements are confidential in reality, so the demo's two confidential entries are FICTITIOUS and
say so.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from cooperation.audit.service import Actor, record
from cooperation.db import utcnow
from cooperation.membership.models import Party
from cooperation_agreements.models import Agreement, AgreementForm, AgreementKind, AgreementStatus

SOURCE_2013 = "Listed in the Report of the Court on cooperation, ICC-ASP/12/35, para. 35."
PUBLIC: tuple[tuple[str, AgreementKind, AgreementStatus, str], ...] = (
    ("AUT", AgreementKind.ENFORCEMENT_OF_SENTENCES, AgreementStatus.IN_FORCE, SOURCE_2013),
    ("GBR", AgreementKind.ENFORCEMENT_OF_SENTENCES, AgreementStatus.IN_FORCE, SOURCE_2013),
    ("BEL", AgreementKind.ENFORCEMENT_OF_SENTENCES, AgreementStatus.IN_FORCE, SOURCE_2013),
    ("DNK", AgreementKind.ENFORCEMENT_OF_SENTENCES, AgreementStatus.IN_FORCE, SOURCE_2013),
    ("FIN", AgreementKind.ENFORCEMENT_OF_SENTENCES, AgreementStatus.IN_FORCE, SOURCE_2013),
    ("SRB", AgreementKind.ENFORCEMENT_OF_SENTENCES, AgreementStatus.IN_FORCE, SOURCE_2013),
    ("MLI", AgreementKind.ENFORCEMENT_OF_SENTENCES, AgreementStatus.IN_FORCE, SOURCE_2013),
    ("COL", AgreementKind.ENFORCEMENT_OF_SENTENCES, AgreementStatus.SIGNED,
     "Not yet in force in September 2013 (ICC-ASP/12/35, para. 35)."),
    ("NOR", AgreementKind.ENFORCEMENT_OF_SENTENCES, AgreementStatus.IN_FORCE,
     "Entered into force in August 2016 (Report of the Court on cooperation, 2016, para. 49)."),
    ("BEL", AgreementKind.INTERIM_RELEASE, AgreementStatus.UNDER_DISCUSSION,
     "Terms of the model agreement under negotiation in 2013 (ICC-ASP/12/35, para. 39)."),
)
FICTITIOUS: tuple[tuple[str, AgreementKind, AgreementStatus, AgreementForm], ...] = (
    ("NLD", AgreementKind.WITNESS_RELOCATION, AgreementStatus.SIGNED, AgreementForm.ARRANGEMENT),
    ("SEN", AgreementKind.RELEASE_OF_PERSONS, AgreementStatus.UNDER_DISCUSSION, AgreementForm.FRAMEWORK),
)


def seed_demo(session: Session, echo: Callable[[str], None]) -> None:
    if session.scalar(select(Agreement.id).limit(1)) is not None:
        return
    parties = {p.code: p for p in session.scalars(select(Party))}
    now = utcnow()
    added = 0
    for code, kind, status, note in PUBLIC:
        if code in parties:
            # In force without a known date cannot be entered through the form; the demo keeps
            # the report's wording in the notes instead of inventing a date.
            session.add(Agreement(party_id=parties[code].id, kind=kind, status=status, form=AgreementForm.FRAMEWORK,
                                  confidential=False, notes=note, created_at=now, updated_at=now))
            added += 1
    for code, kind, status, form in FICTITIOUS:
        if code in parties:
            session.add(Agreement(party_id=parties[code].id, kind=kind, status=status, form=form, confidential=True,
                                  title="Demonstration entry (fictitious)", created_at=now, updated_at=now))
            added += 1
    session.flush()
    record(session, "demo.agreements.seed", Actor.system("seed-demo"), details={"agreements": added})
    echo(f"Cooperation agreements: {added} demo entries (two fictitious, confidential).")
