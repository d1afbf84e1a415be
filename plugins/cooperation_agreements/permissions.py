"""The agreements plugin's permissions, in its own scope `agreements:...`.

Every member reads the registry: the public entries, the aggregate figures per regional group,
and -- for a State's users -- their own State's entries, confidential or not. The Court (Registry
and Office of the Prosecutor) sees every entry. The Registry keeps the registry.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from cooperation.permissions import Permission, Role

REGISTRY_READ = Permission(
    "agreements:registry:read",
    "Read the registry of voluntary cooperation agreements (public entries, one's own State's "
    "entries, figures per regional group)")
CONFIDENTIAL_READ = Permission(
    "agreements:confidential:read", "See every agreement, confidential ones included")
REGISTRY_MANAGE = Permission(
    "agreements:registry:manage", "Record agreements, their status, dates and documents")

ALL_PERMISSIONS: tuple[Permission, ...] = (REGISTRY_READ, CONFIDENTIAL_READ, REGISTRY_MANAGE)

GRANTS: Mapping[Permission, Iterable[Role]] = {
    REGISTRY_READ: tuple(Role),
    CONFIDENTIAL_READ: (Role.REGISTRY_EDITOR, Role.COURT_MEMBER),
    REGISTRY_MANAGE: (Role.REGISTRY_EDITOR,),
}
