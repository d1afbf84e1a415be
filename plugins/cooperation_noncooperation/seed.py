"""Demo data for `seed-demo` (never in production), through the plugin contract's hook.

- A historical, public matter: the Court's decision of 12 May 2011 informing the Assembly of
  Omar Al-Bashir's visit to Djibouti (ICC-02/05-01/09), and the President's letter of 17 May
  2011 -- the precedents cited in the Bureau's 2011 report proposing the procedures (footnotes
  2 and 7). Closed, with a released public summary.
- A FICTITIOUS open matter, labelled as such, with dates relative to today, so that the steps,
  the computed deadlines and the overdue flags can be seen; it stays confidential.
- Saly Focal-Point (focal@sn.demo) designated as Bureau focal point for the African States
  (Senegal was the African group's focal point in 2020, ICC-ASP/19 report of the Bureau on
  non-cooperation, para. 11), and an Assembly session with demonstration dates.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cooperation.accounts.models import User
from cooperation.audit.service import Actor, record
from cooperation.db import utcnow
from cooperation.membership.models import Party, RegionalGroup
from cooperation_noncooperation.deadlines import Scenario, StepKind
from cooperation_noncooperation.models import (
    DEFAULT_OWNER,
    AssemblySession,
    Case,
    CaseStatus,
    ConductedBy,
    FocalPointDesignation,
    Interaction,
    Step,
)

DJIBOUTI_SUMMARY = (
    "On 12 May 2011 Pre-Trial Chamber I informed the United Nations Security Council and the "
    "Assembly of States Parties of Omar Al-Bashir's visit to Djibouti (ICC-02/05-01/09). The "
    "President of the Assembly wrote to the Minister of Foreign Affairs of Djibouti on 17 May "
    "2011. This precedent is among those that led the Bureau to propose the Assembly procedures "
    "relating to non-cooperation, adopted at the tenth session (ICC-ASP/10/Res.5).")


def _party(session: Session, code: str) -> Party | None:
    return session.scalar(select(Party).where(Party.code == code))


def _new_case(party: Party, **values: object) -> Case:
    now = utcnow()
    case = Case(requested_party_id=party.id, created_at=now, updated_at=now, **values)
    case.steps = [Step(kind=kind, owner_body=DEFAULT_OWNER[kind], updated_at=now) for kind in StepKind]
    return case


def seed_demo(session: Session, echo: Callable[[str], None]) -> None:
    if session.scalar(select(Case.id).limit(1)) is not None:
        return
    actor = Actor.system("seed-demo")
    today = utcnow().date()
    added = 0
    djibouti = _party(session, "DJI")
    if djibouti is not None:
        case = _new_case(djibouti, scenario=Scenario.REFERRAL, situation="Darfur, Sudan (ICC-02/05)",
                         decision_reference="ICC-02/05-01/09, Pre-Trial Chamber I",
                         decision_date=date(2011, 5, 12), status=CaseStatus.CLOSED,
                         public_summary=DJIBOUTI_SUMMARY, released_at=utcnow())
        case.steps[list(StepKind).index(StepKind.OPEN_LETTER)].completed_on = date(2011, 5, 17)
        session.add(case)
        added += 1
    demo_state = _party(session, "NLD")
    if demo_state is not None:
        decision = today - timedelta(days=24)
        case = _new_case(demo_state, scenario=Scenario.REFERRAL,
                         situation="Fictitious demonstration case (not a real matter)",
                         decision_reference="ICC-00/00-00/00 (demonstration)", decision_date=decision)
        steps = {s.kind: s for s in case.steps}
        steps[StepKind.FORWARD_DECISION].completed_on = decision + timedelta(days=1)
        steps[StepKind.EMERGENCY_BUREAU].completed_on = decision + timedelta(days=3)
        steps[StepKind.OPEN_LETTER].completed_on = decision + timedelta(days=5)
        case.interactions = [Interaction(
            occurred_on=decision + timedelta(days=2), conducted_by=ConductedBy.PRESIDENT,
            participants="President of the Assembly", counterpart="Permanent Representative (demonstration)",
            summary="Demonstration entry: the President recalled the obligation to cooperate and the "
                    "possibility to consult the Court under article 97.", created_at=utcnow(),
            updated_at=utcnow())]
        session.add(case)
        added += 1
    if session.scalar(select(AssemblySession.id).limit(1)) is None:
        opens = today + timedelta(days=130)
        session.add(AssemblySession(label="Next session (demonstration dates)", opens_on=opens,
                                    closes_on=opens + timedelta(days=6), place="The Hague", created_at=utcnow()))
    focal = session.scalar(select(User).where(User.email == "focal@sn.demo"))
    if focal is not None and session.scalar(select(FocalPointDesignation.id).where(
            FocalPointDesignation.user_id == focal.id)) is None:
        session.add(FocalPointDesignation(user_id=focal.id, regional_group=RegionalGroup.AFRICAN,
                                          designated_at=utcnow()))
    session.flush()
    record(session, "demo.noncooperation.seed", actor, details={"cases": added})
    echo(f"Non-cooperation: {added} demo case files (one fictitious, confidential).")
