"""Permissions (`area:resource:action`), the role -> permission policy, and view guards.

Default deny: every view must declare either @require(PERMISSION) or @public; a before-request
hook refuses any endpoint that declares neither, and a test walks the URL map for the same.
A permission says what a role may do in general; which *objects* (which State's data) a user
may touch is decided in the services, scoped to the user's own State or organisation.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import abort, current_app, g, has_request_context, request
from flask_login import current_user

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Permission:
    name: str
    description: str

    def __str__(self) -> str:
        return self.name


class Role(enum.StrEnum):
    STATE_MEMBER = "state_member"
    STATE_FOCAL_POINT = "state_focal_point"
    SECRETARIAT_ADMIN = "secretariat_admin"
    REGISTRY_EDITOR = "registry_editor"
    COURT_MEMBER = "court_member"


# -- core permissions ------------------------------------------------------------------------
ACCOUNT_SELF_MANAGE = Permission("core:account:manage-self", "Manage one's own account, MFA and sessions")
DASHBOARD_VIEW = Permission("core:dashboard:view", "See one's dashboard")
STATE_USERS_MANAGE = Permission(
    "core:state-users:manage", "Invite, suspend and reactivate users of one's own State"
)
MEMBERSHIP_ADMIN = Permission(
    "core:membership:admin", "Administer States, organisations, invitations, roles and suspensions"
)
AUDIT_READ = Permission("core:audit:read", "Read, filter and export the audit log")
PARTIES_READ = Permission("core:parties:read", "See the list of States Parties and organisations")
CASELAW_READ = Permission("core:caselaw:read", "Read published case-law explainers and guidance notes")
CASELAW_EDIT = Permission("core:caselaw:edit", "Write, review and publish case-law explainers and guidance")
# -- end-to-end encrypted threads (cooperation/threads): the server relays ciphertext only ------
THREADS_PARTICIPATE = Permission("core:threads:participate",
                                 "Take part in end-to-end encrypted threads (ciphertext only on the server)")
KEYS_PUBLISH = Permission("core:keys:publish", "Publish one's own device and identity public keys")

# -- questionnaires (national procedures for executing the Court's requests) -------------------
QUESTIONNAIRE_ANSWER = Permission("questionnaires:response:answer", "Draft one's own State's responses")
QUESTIONNAIRE_SUBMIT = Permission("questionnaires:response:submit",
                                  "Submit, reopen and share one's own State's responses")
QUESTIONNAIRE_VIEW = Permission("questionnaires:response:view",
                                "See responses one may see: one's own State's, shared ones, or all for analysts")
QUESTIONNAIRE_MANAGE = Permission("questionnaires:questionnaire:manage", "Build, publish and track questionnaires")
QUESTIONNAIRE_ANALYSE = Permission("questionnaires:response:analyse", "Analyse and export every State's responses")
QUESTIONNAIRE_PROFILE_READ = Permission("questionnaires:profile:read",
                                        "Read the country profiles States agreed to share")

CORE_PERMISSIONS: tuple[Permission, ...] = (
    ACCOUNT_SELF_MANAGE,
    DASHBOARD_VIEW,
    STATE_USERS_MANAGE,
    MEMBERSHIP_ADMIN,
    AUDIT_READ,
    PARTIES_READ,
    QUESTIONNAIRE_ANSWER,
    QUESTIONNAIRE_SUBMIT,
    QUESTIONNAIRE_VIEW,
    QUESTIONNAIRE_MANAGE,
    QUESTIONNAIRE_ANALYSE,
    QUESTIONNAIRE_PROFILE_READ,
    CASELAW_READ,
    CASELAW_EDIT,
    THREADS_PARTICIPATE,
    KEYS_PUBLISH,
)

_EVERYONE = {ACCOUNT_SELF_MANAGE.name, DASHBOARD_VIEW.name, PARTIES_READ.name,
             QUESTIONNAIRE_PROFILE_READ.name, CASELAW_READ.name, KEYS_PUBLISH.name}
# The Secretariat administrator administers accounts but never reads threads.
_THREADS = {THREADS_PARTICIPATE.name}
_STATE_QUESTIONNAIRES = {QUESTIONNAIRE_ANSWER.name, QUESTIONNAIRE_VIEW.name}
_QUESTIONNAIRE_ANALYSTS = {QUESTIONNAIRE_MANAGE.name, QUESTIONNAIRE_ANALYSE.name, QUESTIONNAIRE_VIEW.name}

# Role -> permissions, in one place. Plugins add their own (see grant()).
ROLE_PERMISSIONS: dict[Role, set[str]] = {
    Role.STATE_MEMBER: _EVERYONE | _STATE_QUESTIONNAIRES | _THREADS,
    Role.STATE_FOCAL_POINT: _EVERYONE | {STATE_USERS_MANAGE.name, QUESTIONNAIRE_SUBMIT.name}
    | _STATE_QUESTIONNAIRES | _THREADS,
    Role.SECRETARIAT_ADMIN: _EVERYONE | {MEMBERSHIP_ADMIN.name, AUDIT_READ.name} | _QUESTIONNAIRE_ANALYSTS,
    Role.REGISTRY_EDITOR: _EVERYONE | _QUESTIONNAIRE_ANALYSTS | {CASELAW_EDIT.name} | _THREADS,
    Role.COURT_MEMBER: _EVERYONE | _THREADS,
}


def permissions_for(role: Role | str, extra: dict[str, Iterable[Role]] | None = None) -> frozenset[str]:
    """Core grants for a role, plus plugin grants held on the application."""
    role = Role(role)
    granted = set(ROLE_PERMISSIONS[role])
    plugin_grants = extra
    if plugin_grants is None:
        registry = current_app.extensions.get("cooperation.plugins")
        plugin_grants = registry.grants if registry is not None else {}
    for name, roles in plugin_grants.items():
        if role in roles:
            granted.add(name)
    return frozenset(granted)


def has_permission(permission: Permission | str, user: Any = None) -> bool:
    user = current_user if user is None else user
    if not getattr(user, "is_authenticated", False):
        return False
    name = str(permission)
    return name in permissions_for(user.role) and _token_covers(name, user)


def _token_covers(name: str, user: Any) -> bool:
    """A request authenticated by an OAuth bearer token may use only what the token's scopes
    cover (cooperation/oauth/bearer.py keeps them on `g`); cookie sessions are not narrowed."""
    if not has_request_context():
        return True
    _ = current_user.is_authenticated  # make sure the request's user (and token) is loaded
    access = g.get("oauth_access")
    if access is None or access.user_id != getattr(user, "id", None):
        return True
    return name in access.permissions


# -- view guards -----------------------------------------------------------------------------

def require(permission: Permission) -> Callable[[F], F]:
    """Login (with MFA completed) and the permission are required; otherwise 404 or login."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
            if not has_permission(permission):
                # 404, not 403: do not confirm that a page for another role exists.
                abort(404)
            return view(*args, **kwargs)

        wrapped.required_permission = permission  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


def public(view: F) -> F:
    """Reachable without a session (login, invitation acceptance, health, static files)."""
    view.is_public = True  # type: ignore[attr-defined]
    return view


def authenticated(view: F) -> F:
    """Any signed-in user; used for views every role needs (logout, language choice)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            return current_app.login_manager.unauthorized()  # type: ignore[attr-defined]
        return view(*args, **kwargs)

    wrapped.required_permission = None  # type: ignore[attr-defined]
    wrapped.any_authenticated = True  # type: ignore[attr-defined]
    return wrapped  # type: ignore[return-value]


def view_is_declared(view: Callable[..., Any]) -> bool:
    return bool(
        getattr(view, "is_public", False)
        or getattr(view, "any_authenticated", False)
        or getattr(view, "required_permission", None) is not None
    )


def enforce_declared_views() -> None:
    """before_request: refuse any endpoint that declared no permission (default deny)."""
    if request.endpoint is None:
        return  # 404 / 405 handled by Flask
    if request.endpoint == "static" or request.endpoint.endswith(".static"):
        return
    view = current_app.view_functions.get(request.endpoint)
    if view is None or not view_is_declared(view):
        current_app.logger.error("view %s declares no permission; refused", request.endpoint)
        abort(404)
