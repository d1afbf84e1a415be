"""The navigation that follows the role: core items and plugin items, filtered by permission."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l

from cooperation import permissions as p
from cooperation.plugins import NavItem

CORE_NAV: tuple[NavItem, ...] = (
    NavItem(label=lambda: str(_l("Dashboard")), endpoint="dashboard.index", permission=p.DASHBOARD_VIEW, order=10),
    NavItem(label=lambda: str(_l("Questionnaires")), endpoint="questionnaires.index", permission=p.QUESTIONNAIRE_ANSWER, order=30),
    NavItem(label=lambda: str(_l("Questionnaires")), endpoint="questionnaires.manage_index", permission=p.QUESTIONNAIRE_MANAGE, order=31),
    NavItem(label=lambda: str(_l("Country profiles")), endpoint="questionnaires.profiles", permission=p.QUESTIONNAIRE_PROFILE_READ, order=35),
    NavItem(label=lambda: str(_l("My State's users")), endpoint="membership.state_users", permission=p.STATE_USERS_MANAGE, order=60),
    NavItem(label=lambda: str(_l("Membership")), endpoint="membership.admin_index", permission=p.MEMBERSHIP_ADMIN, order=70),
    NavItem(label=lambda: str(_l("Audit log")), endpoint="audit.index", permission=p.AUDIT_READ, order=80),
    NavItem(label=lambda: str(_l("Case law and guidance")), endpoint="caselaw.index", permission=p.CASELAW_READ, order=30),
    NavItem(label=lambda: str(_l("Threads")), endpoint="threads.index", permission=p.THREADS_PARTICIPATE, order=20),
    NavItem(label=lambda: str(_l("Editing case law")), endpoint="caselaw.editor_index", permission=p.CASELAW_EDIT, order=35),
)


def nav_for_current_user() -> list[NavItem]:
    registry = current_app.extensions["cooperation.plugins"]
    items = [*CORE_NAV, *registry.nav]
    visible = [i for i in items if i.permission is None or p.has_permission(i.permission)]
    return sorted(visible, key=lambda i: i.order)
