"""The non-cooperation plugin's permissions, in its own scope `noncooperation:...`.

Who sees what is decided in services.py, not by the permission alone:
- a confidential case file (before its public summary is released) is seen by the Secretariat,
  the Court (Registry and Office of the Prosecutor) and the Bureau's focal points (individual
  State users the Secretariat designated, see models.py) -- nobody else, not even the requested
  State's users;
- a released public summary is seen by every member.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cooperation.permissions import Permission, Role

CASES_READ = Permission(
    "noncooperation:cases:read",
    "Open the non-cooperation pages (which case files one sees depends on the role, the "
    "designation as a Bureau focal point and the release of public summaries)")
CASES_CONFIDENTIAL = Permission(
    "noncooperation:cases:confidential",
    "See every case file before its public summary is released (designated Bureau focal points "
    "see them too, through their designation)")
CASES_MANAGE = Permission(
    "noncooperation:cases:manage",
    "Open case files, keep the steps of the formal procedure, release public summaries, keep "
    "the Assembly's sessions")
INTERACTIONS_RECORD = Permission(
    "noncooperation:interactions:record",
    "Record good-offices interactions and oral reports (effective for the Secretariat and "
    "designated Bureau focal points only)")
FOCAL_POINTS_MANAGE = Permission(
    "noncooperation:focal-points:manage", "Designate the Bureau's focal points and end designations")

ALL_PERMISSIONS: tuple[Permission, ...] = (CASES_READ, CASES_CONFIDENTIAL, CASES_MANAGE,
                                           INTERACTIONS_RECORD, FOCAL_POINTS_MANAGE)

GRANTS: Mapping[Permission, Iterable[Role]] = {
    CASES_READ: tuple(Role),
    CASES_CONFIDENTIAL: (Role.SECRETARIAT_ADMIN, Role.REGISTRY_EDITOR, Role.COURT_MEMBER),
    CASES_MANAGE: (Role.SECRETARIAT_ADMIN,),
    # State users hold it so that a designated focal point can record; services check the
    # designation and answer 404 to everyone else.
    INTERACTIONS_RECORD: (Role.SECRETARIAT_ADMIN, Role.STATE_FOCAL_POINT, Role.STATE_MEMBER),
    FOCAL_POINTS_MANAGE: (Role.SECRETARIAT_ADMIN,),
}
