"""Voluntary cooperation agreements (plugin).

A registry of the agreements of States with the Court -- relocation of witnesses, enforcement of
sentences, interim release, release of persons -- with their status (under discussion, signed,
in force), dates and documents, and the number of States per regional group that concluded
each kind, so that the Court can show where more agreements are needed (e.g. how few States
outside Western Europe accept sentenced persons, ICC-ASP/12/35 para. 37).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from flask import Blueprint
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from cooperation.permissions import Permission, Role
from cooperation.plugins import NavItem, Plugin


class AgreementsPlugin(Plugin):
    name = "agreements"
    title = "Voluntary cooperation agreements"
    description = ("Registry of agreements on witness relocation, enforcement of sentences, interim "
                   "release and release of persons, with figures per regional group.")
    models_module = "cooperation_agreements.models"

    def blueprints(self) -> Iterable[tuple[Blueprint, str]]:
        from cooperation_agreements.views import bp

        return ((bp, "/agreements"),)

    def nav_items(self) -> Iterable[NavItem]:
        from cooperation_agreements.permissions import REGISTRY_READ

        return (NavItem(label=lambda: str(_l("Cooperation agreements")), endpoint="agreements.index",
                        permission=REGISTRY_READ, order=42),)

    def permissions(self) -> Iterable[Permission]:
        from cooperation_agreements.permissions import ALL_PERMISSIONS

        return ALL_PERMISSIONS

    def grants(self) -> Mapping[Permission, Iterable[Role]]:
        from cooperation_agreements.permissions import GRANTS

        return GRANTS

    def seed_demo(self, session: Session, echo: Callable[[str], None]) -> None:
        from cooperation_agreements.seed import seed_demo

        seed_demo(session, echo)


plugin = AgreementsPlugin()
