"""Demo data for `seed-demo` (never in production), through the plugin contract's hook.

One entry: the Court's urgent channel for arrest and surrender, on the Registry's page, entered
as the Registry editor would (through services.create, audited). It stands for the joint
Registry-Office of the Prosecutor e-mail address the Court set up for information on the travel
of persons subject to an arrest warrant (Report of the Court on cooperation, 2016, para. 59).
Its addresses are FICTITIOUS (example.org) and the entry says so; no telephone number is given,
so that none can be a real one. With it, the demo's travel reports alert an after-hours address
of the Court through the directory, as in production.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from cooperation.accounts.models import User, UserStatus
from cooperation.audit.service import Actor
from cooperation.membership.models import Party
from cooperation.permissions import Role
from cooperation_directory import services
from cooperation_directory.models import ContactPoint, Topic

COURT_URGENT = services.ContactData(
    topic=Topic.ARREST_SURRENDER,
    authority="Registry and Office of the Prosecutor: joint channel for information on the travel "
              "of persons subject to an arrest warrant",
    email="travel-information@icc-cpi.example.org",
    languages="English, French",
    urgent_email="travel-duty@icc-cpi.example.org",
    urgent_hours="24/7",
    notes="Demonstration entry: the addresses are fictitious. The Court's joint address for travel "
          "information is described in the Report of the Court on cooperation (2016), para. 59.",
)


def seed_demo(session: Session, echo: Callable[[str], None]) -> None:
    registry = session.scalar(select(Party).where(Party.code == "ICC-REG"))
    if registry is None:
        return
    kept = select(ContactPoint.id).where(ContactPoint.party_id == registry.id).limit(1)
    if session.scalar(kept) is not None:
        return  # already seeded, or kept by hand since
    editor = session.scalar(select(User).where(
        User.party_id == registry.id, User.role == Role.REGISTRY_EDITOR,
        User.status == UserStatus.ACTIVE).order_by(User.id))
    if editor is None:
        echo("Contact points: no Registry editor to enter the Court's urgent channel; none seeded.")
        return
    services.create(session, editor, registry, COURT_URGENT, Actor.system("seed-demo"))
    echo("Contact points: the Court's urgent channel for arrest and surrender (fictitious "
         "addresses), on the Registry's page.")
