"""The directory's permissions, in its own scope `directory:...`, and who receives them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cooperation.permissions import Permission, Role

CONTACTS_READ = Permission(
    "directory:contacts:read", "Read the directory of national contact points")
# Whose entries a holder may manage is decided in services.can_manage (a focal point its own
# State's, the Registry editor the Registry's, the Secretariat any State's and the Court's); the
# permission alone only opens the editing pages.
CONTACTS_MANAGE = Permission(
    "directory:contacts:manage",
    "Create, edit, delete and confirm contact points of a State or of the Court",
)

ALL_PERMISSIONS: tuple[Permission, ...] = (CONTACTS_READ, CONTACTS_MANAGE)

GRANTS: Mapping[Permission, Iterable[Role]] = {
    CONTACTS_READ: tuple(Role),
    # Not Court members, as not State members: keeping the entries is an administrator's task.
    CONTACTS_MANAGE: (Role.STATE_FOCAL_POINT, Role.REGISTRY_EDITOR, Role.SECRETARIAT_ADMIN),
}
