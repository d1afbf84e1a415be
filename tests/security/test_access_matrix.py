"""Access matrix: every rule of the URL map x GET/POST x every role (in NLD, SEN and each
organisation) and anonymous, checked against the policy the view declares and the grants in
permissions.ROLE_PERMISSIONS / permissions_for:

- anonymous on a protected page: redirect to the login page (or 404);
- a role without the permission: 404 (never confirm that the page exists);
- a role with the permission, on objects of its own State (or, for organisations, a State):
  neither 404 nor a server error;
- never a 500, anywhere;
- a State's user on another State's objects (users, invitations, sessions, keys, contact
  points...): 404.

Routes are read from the URL map, so pages added by other modules are covered automatically.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from tests.conftest import _clean
from tests.factories import make_user
from tests.security import world as w


@pytest.fixture(scope="module")
def matrix(_schema_app: Flask) -> Iterator[tuple[Flask, dict[str, w.Principal], w.Objects]]:
    """One signed-in client per role, signed in once for the whole module."""
    from cooperation.permissions import Role

    app = _schema_app
    _clean(app)
    with app.app_context():
        users = {
            "admin": make_user("ASP-SEC", Role.SECRETARIAT_ADMIN, "admin@asp.test"),
            "editor": make_user("ICC-REG", Role.REGISTRY_EDITOR, "editor@registry.test"),
            "court": make_user("ICC-OTP", Role.COURT_MEMBER, "court@otp.test"),
            "focal_nl": make_user("NLD", Role.STATE_FOCAL_POINT, "focal@nl.test"),
            "member_nl": make_user("NLD", Role.STATE_MEMBER, "member@nl.test"),
            "focal_sn": make_user("SEN", Role.STATE_FOCAL_POINT, "focal@sn.test"),
            "member_sn": make_user("SEN", Role.STATE_MEMBER, "member@sn.test"),
        }
        from cooperation.extensions import db

        db.session.commit()
        principals = w.make_principals(app, users)
        yield app, principals, w.Objects(app)
        db.session.remove()


def _scope(app: Flask, endpoint: str, principal: w.Principal) -> tuple[str, int]:
    """The State (or organisation) whose objects this principal may legitimately act on, and the
    owner of per-user objects (the principal itself)."""
    assert principal.user is not None
    return w.scope_code(app, endpoint, principal), principal.user.id


def _classify(expected: str, response) -> str | None:  # type: ignore[no-untyped-def]
    """None if the response matches the expectation, else a description of the mismatch."""
    status = response.status_code
    location = response.headers.get("Location", "")
    if status >= 500:
        return f"server error {status}"
    if expected == "login":
        if status == 404 or (status in (301, 302, 303) and "/login" in location):
            return None
        # The JSON API answers a bearer challenge instead of redirecting (cooperation/oauth/bearer.py).
        if status == 401 and response.headers.get("WWW-Authenticate", "").startswith("Bearer "):
            return None
        return f"anonymous got {status} {location}".strip()
    if expected == "deny":
        return None if status == 404 else f"expected 404 without the permission, got {status}"
    if expected == "allow":
        return f"allowed role got {status}" if status in (404, 405) else None
    return None  # public: anything but a server error


@pytest.mark.parametrize("who", [*w.ROLE_NAMES, "anonymous"])
def test_access_matrix(matrix, who):
    app, principals, objects = matrix
    with app.app_context():
        principal = principals[who]
        anonymous_owner = principals["member_nl"].user.id
        problems: list[str] = []
        checked = 0
        for rule, method in w.checked_rules(app):
            w.ensure_state(principal)
            if principal.user is None:
                code, owner = "NLD", anonymous_owner
            else:
                code, owner = _scope(app, rule.endpoint, principal)
            values = objects.values(rule, code, owner)
            if values is None:
                continue
            path = app.url_map.bind("localhost").build(rule.endpoint, values, method=method)
            expected = w.expectation(app, rule.endpoint, principal)
            if expected == "allow" and objects.generic:
                expected = "allow (generic object)"  # judged on server errors only (Objects.generic)
            response = w.request(principal, method, path)
            checked += 1
            mismatch = _classify(expected, response)
            if mismatch:
                problems.append(f"{who} {method} {rule.rule} ({expected}): {mismatch}")
        w.ensure_state(principal)
        assert not objects.unknown, (
            f"no test object for URL arguments {sorted(objects.unknown)}: teach tests/security/world.py "
            "how to make one")
        assert not problems, "\n".join(problems)
        assert checked >= 40


def _cross_state_applies(app: Flask, rule) -> bool:  # type: ignore[no-untyped-def]
    names = rule.arguments
    if any(name.endswith(w.PRIVATE_ARGS_SUFFIX) for name in names if name not in ("party_id",)):
        return True
    # A State's code or id: reading another State's public record may be allowed (the
    # directory); changing it never is.
    return bool(names & {"code", "party_code", "party_id"}) and not w.is_read_only_permission(app, rule.endpoint)


@pytest.mark.parametrize("who", w.STATE_ROLES)
def test_other_states_objects_are_404(matrix, who):
    app, principals, objects = matrix
    with app.app_context():
        principal = principals[who]
        other = w.OTHER_STATE[principal.user.party_code]
        other_owner = principals["member_sn" if other == "SEN" else "member_nl"].user.id
        problems: list[str] = []
        reachable = 0
        for rule, method in w.checked_rules(app):
            if not _cross_state_applies(app, rule) or w.expectation(app, rule.endpoint, principal) == "public":
                continue
            w.ensure_state(principal)
            values = objects.values(rule, other, other_owner)
            if values is None:
                continue
            path = app.url_map.bind("localhost").build(rule.endpoint, values, method=method)
            response = w.request(principal, method, path)
            if w.expectation(app, rule.endpoint, principal) == "allow":
                reachable += 1
            if response.status_code != 404:
                problems.append(f"{who} {method} {rule.rule} on {other}'s object: {response.status_code}")
        w.ensure_state(principal)
        assert not problems, "\n".join(problems)
        # Not vacuous: every State role holds pages that take its own objects (its sessions).
        assert reachable > 0


def test_focal_point_cannot_reach_another_states_user_or_invitation(matrix):
    """The concrete case behind the generic test, spelled out."""
    app, principals, objects = matrix
    with app.app_context():
        focal_nl = principals["focal_nl"]
        w.ensure_state(focal_nl)
        user_id = objects.user("SEN").id
        invitation_id, token = objects.invitation("SEN")
        from cooperation.extensions import db

        db.session.commit()
        rules = {rule.endpoint: rule for rule in app.url_map.iter_rules()}
        adapter = app.url_map.bind("localhost")
        tried = 0
        for endpoint, rule in rules.items():
            args = rule.arguments
            if args == {"user_id"} or args == {"invitation_id"}:
                value = {"user_id": user_id} if args == {"user_id"} else {"invitation_id": invitation_id}
                for method in ("GET", "POST"):
                    if method in rule.methods:
                        w.ensure_state(focal_nl)
                        response = w.request(focal_nl, method, adapter.build(endpoint, value, method=method))
                        assert response.status_code == 404, (endpoint, method, response.status_code)
                        tried += 1
        assert tried > 0
        # The user and the invitation are untouched.
        from cooperation.accounts.models import Invitation, User, UserStatus

        assert db.session.get(User, user_id).status == UserStatus.ACTIVE
        assert db.session.get(Invitation, invitation_id).revoked_at is None
