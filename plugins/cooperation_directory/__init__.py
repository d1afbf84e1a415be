"""Directory of national contact points (plugin).

Per State Party, the focal points the Court can reach for asset tracing and freezing, arrest
and surrender, and general cooperation, including an urgent (after-hours) channel; and the
Court's own (Registry, Office of the Prosecutor), which States reach the same way. Every member
reads it; a State's focal point keeps its own State's entries current, the Registry editor the
Registry's; the Secretariat may edit any State's and the Court's entries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from flask import Blueprint
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from cooperation.permissions import Permission, Role
from cooperation.plugins import NavItem, Plugin


class DirectoryPlugin(Plugin):
    name = "directory"
    title = "Directory of national contact points"
    description = ("National focal points for asset tracing and freezing, arrest and surrender, "
                   "and general cooperation, with their urgent channels.")
    models_module = "cooperation_directory.models"

    def blueprints(self) -> Iterable[tuple[Blueprint, str]]:
        from cooperation_directory.views import bp

        return ((bp, "/directory"),)

    def nav_items(self) -> Iterable[NavItem]:
        from cooperation_directory.permissions import CONTACTS_READ

        return (NavItem(label=lambda: str(_l("Contact points")), endpoint="directory.index",
                        permission=CONTACTS_READ, order=40),)

    def permissions(self) -> Iterable[Permission]:
        from cooperation_directory.permissions import ALL_PERMISSIONS

        return ALL_PERMISSIONS

    def grants(self) -> Mapping[Permission, Iterable[Role]]:
        from cooperation_directory.permissions import GRANTS

        return GRANTS

    def seed_demo(self, session: Session, echo: Callable[[str], None]) -> None:
        from cooperation_directory.seed import seed_demo

        seed_demo(session, echo)


plugin = DirectoryPlugin()
