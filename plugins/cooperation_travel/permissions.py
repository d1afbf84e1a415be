"""The travel plugin's permissions, in its own scope `travel:...`, and who receives them.

Least privilege: the Secretariat of the Assembly holds none of them. A travel report is an
end-to-end encrypted thread between the reporting State, the Court and the Bureau focal points;
the Secretariat takes part in no thread and has no business with the routing record either.
Which reports a holder of `travel:reports:read` sees is decided in services.py (own State's,
received ones, every one for the Court); anything else answers 404.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cooperation.permissions import Permission, Role

REPORTS_READ = Permission(
    "travel:reports:read",
    "Open the travel reports one may see: one's own State's, those one received as a Bureau "
    "focal point, and every report for the Court")
REPORTS_SEND = Permission(
    "travel:reports:send",
    "Report potential or confirmed travel of a person subject to an arrest warrant of the Court")
REPORTS_HANDLE = Permission(
    "travel:reports:handle",
    "Acknowledge receipt of travel reports and record their outcome (the Court)")

ALL_PERMISSIONS: tuple[Permission, ...] = (REPORTS_READ, REPORTS_SEND, REPORTS_HANDLE)

STATE_ROLES = (Role.STATE_MEMBER, Role.STATE_FOCAL_POINT)
# The Court: Registry and Office of the Prosecutor staff (the roles that take part in threads).
COURT_ROLES = (Role.COURT_MEMBER, Role.REGISTRY_EDITOR)

GRANTS: Mapping[Permission, Iterable[Role]] = {
    REPORTS_READ: (*STATE_ROLES, *COURT_ROLES),
    # Every State user may report (a designated Bureau focal point is a State user too).
    REPORTS_SEND: STATE_ROLES,
    REPORTS_HANDLE: COURT_ROLES,
}
