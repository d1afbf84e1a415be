"""The directory's permissions, in its own scope `directory:...`, and who receives them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cooperation.permissions import Permission, Role

CONTACTS_READ = Permission(
    "directory:contacts:read", "Read the directory of national contact points")
# Which State a holder may manage is decided in services.can_manage (own State, or any for the
# Secretariat); the permission alone only opens the editing pages.
CONTACTS_MANAGE = Permission(
    "directory:contacts:manage", "Create, edit, delete and confirm contact points of a State"
)

ALL_PERMISSIONS: tuple[Permission, ...] = (CONTACTS_READ, CONTACTS_MANAGE)

GRANTS: Mapping[Permission, Iterable[Role]] = {
    CONTACTS_READ: tuple(Role),
    CONTACTS_MANAGE: (Role.STATE_FOCAL_POINT, Role.SECRETARIAT_ADMIN),
}
