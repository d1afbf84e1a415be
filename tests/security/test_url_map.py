"""Default deny: every view in the URL map declares its access, and the public surface is an
explicit allow-list, so a new public (or merely signed-in) view is added on purpose."""

from __future__ import annotations

from cooperation import permissions as p

# Reachable without a session. Adding to this list is a security decision: say why in review.
PUBLIC_ENDPOINTS = {
    "dashboard.home",  # redirects to the login or the dashboard
    "auth.login",
    "auth.second_factor",
    "auth.logout",
    "accounts.accept_invitation",
    "accounts.enrol_totp",  # works only with the pending user id put in the session at acceptance
    "accounts.set_language",
    "health.healthz",
    "health.readyz",
    "metrics.metrics",  # Prometheus: only METRICS_ALLOWED_NETWORKS (loopback), 404 otherwise
    "webauthn.login_options",  # second factor: needs the pending password step
    "webauthn.login_verify",
    # Feed readers cannot sign in: the Atom feed checks its own per-user token (hashed,
    # revocable, dead with a suspended account) and answers 404 without a valid one.
    "caselaw.feed",
    # OAuth 2.0 endpoints called by the Python client, which has no session: form posts that
    # authenticate by client id plus a device code (RFC 8628) or a token (RFC 6749/7009), carry no
    # cookie authority (CSRF-exempt) and answer RFC error codes. The device-authorization endpoint
    # is rate-limited per address; approving a device needs a full sign-in (oauth.verify).
    "oauth.device_authorization",
    "oauth.token",
    "oauth.revoke",
}

# Any signed-in user, whatever the role (no permission needed).
AUTHENTICATED_ENDPOINTS = {
    "accounts.show_recovery_codes",
    # The API description is no secret, but there is no reason to hand it to strangers.
    "threads_api.openapi",
}


def _endpoints(app) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {rule.endpoint: app.view_functions[rule.endpoint] for rule in app.url_map.iter_rules()
            if rule.endpoint != "static" and not rule.endpoint.endswith(".static")}


def test_every_view_declares_its_access(app):
    undeclared = sorted(name for name, view in _endpoints(app).items() if not p.view_is_declared(view))
    assert undeclared == [], f"views without @require/@public/@authenticated: {undeclared}"


def test_public_views_are_exactly_the_allow_list(app):
    public = {name for name, view in _endpoints(app).items() if getattr(view, "is_public", False)}
    assert public == PUBLIC_ENDPOINTS, (
        f"unexpected public views: {sorted(public - PUBLIC_ENDPOINTS)}; "
        f"no longer public: {sorted(PUBLIC_ENDPOINTS - public)}")


def test_signed_in_only_views_are_exactly_the_allow_list(app):
    anyone = {name for name, view in _endpoints(app).items()
              if getattr(view, "any_authenticated", False) and not getattr(view, "is_public", False)}
    assert anyone == AUTHENTICATED_ENDPOINTS, (
        f"views open to every signed-in role: {sorted(anyone)}; expected {sorted(AUTHENTICATED_ENDPOINTS)}")


def test_every_required_permission_is_known(app):
    registry = app.extensions["cooperation.plugins"]
    known = {perm.name for perm in p.CORE_PERMISSIONS} | set(registry.permissions)
    for name, view in _endpoints(app).items():
        required = getattr(view, "required_permission", None)
        if required is not None:
            assert str(required) in known, f"{name} requires unknown permission {required}"


def test_every_permission_is_granted_to_some_role(app):
    # A permission nobody holds makes its pages dead code (or hides a missing grant).
    granted: set[str] = set()
    for role in p.Role:
        granted |= p.permissions_for(role)
    for name, view in _endpoints(app).items():
        required = getattr(view, "required_permission", None)
        if required is not None:
            assert str(required) in granted, f"{name}: no role holds {required}"


def test_an_undeclared_view_is_refused_at_runtime(make_app):
    app = make_app()

    @app.get("/test-only/undeclared")
    def undeclared():  # type: ignore[no-untyped-def]
        return "leaked"

    assert not p.view_is_declared(app.view_functions["undeclared"])
    response = app.test_client().get("/test-only/undeclared")
    assert response.status_code == 404
    assert b"leaked" not in response.data
