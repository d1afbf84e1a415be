"""OAuth scopes: each is a named set of platform permissions.

A token carries scopes; a request authenticated by that token may use a permission only if
(1) the user's role grants it (as for every request) and (2) one of the token's scopes covers
it (see permissions.has_permission). A scope is granted only when the user holds *all* of its
permissions, so a token never promises more than its user can do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

from cooperation import permissions as p


@dataclass(frozen=True)
class Scope:
    name: str
    permissions: frozenset[str]
    description: object  # a lazy translation: what the user approves, in words


SCOPES: dict[str, Scope] = {s.name: s for s in (
    Scope("profile", frozenset({p.ACCOUNT_SELF_MANAGE.name}),
          _l("See your name, your State or organisation and your role")),
    Scope("threads", frozenset({"core:threads:participate", "core:keys:publish"}),
          _l("Read and send end-to-end encrypted messages in your threads, and publish your device keys")),
    Scope("directory:read", frozenset({"directory:contacts:read"}),
          _l("Read the directory of national contact points")),
    Scope("parties:read", frozenset({p.PARTIES_READ.name}),
          _l("See the list of States Parties and organisations")),
    Scope("audit:read", frozenset({p.AUDIT_READ.name}),
          _l("Read and export the audit log (Secretariat administrators only)")),
)}


def parse(scope: str | None) -> list[str]:
    """Space-separated scope string -> known names, in a stable order, without duplicates."""
    requested = set((scope or "").split())
    return [name for name in SCOPES if name in requested]


def unknown(scope: str | None) -> set[str]:
    return set((scope or "").split()) - set(SCOPES)


def to_string(names: Iterable[str]) -> str:
    return " ".join(parse(" ".join(names)))


def allowed_for(names: Iterable[str], role_permissions: frozenset[str]) -> list[str]:
    """The scopes among `names` whose every permission the role holds."""
    return [n for n in parse(" ".join(names)) if SCOPES[n].permissions <= role_permissions]


def permissions_of(names: Iterable[str]) -> frozenset[str]:
    covered: set[str] = set()
    for name in parse(" ".join(names)):
        covered |= SCOPES[name].permissions
    return frozenset(covered)
