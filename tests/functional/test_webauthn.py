"""Security keys and passkeys end to end through the real endpoints, with a software
authenticator: registration, sign-in as second factor, refusals (origin, challenge, counter,
throttle), removal with the password, and the gate for Secretariat administrators."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from cooperation.audit.models import AuditEvent
from cooperation.extensions import db
from cooperation.security.models import LoginFailure, WebAuthnCredential
from tests.conftest import AuthActions, CommittingClient, csrf_from
from tests.unit.test_webauthn_softkey import SoftKey

DATA_CSRF = re.compile(r'data-csrf="([^"]+)"')


def data_csrf(client: FlaskClient, path: str) -> str:
    page = client.get(path).get_data(as_text=True)
    match = DATA_CSRF.search(page)
    assert match, f"no data-csrf on {path}"
    return match.group(1)


def post_json(client: FlaskClient, url: str, token: str, body: dict[str, Any] | None = None):  # type: ignore[no-untyped-def]
    return client.post(url, json=body or {}, headers={"X-CSRFToken": token, "Accept": "application/json"})


PASSWORD = "correct horse battery staple"


def register_options(client: FlaskClient, password: str = PASSWORD) -> tuple[str, dict[str, Any]]:
    """Options for a new key, asked for with the current password (ASVS 7.5.1)."""
    token = data_csrf(client, "/account/security")
    response = post_json(client, "/webauthn/register/options", token, {"current": password})
    assert response.status_code == 200, response.get_data(as_text=True)
    return token, response.get_json()


def register_key(client: FlaskClient, key: SoftKey, name: str = "YubiKey") -> WebAuthnCredential:
    token, options = register_options(client)
    response = post_json(client, "/webauthn/register/verify", token,
                         {"name": name, "credential": key.register(options)})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["redirect"].endswith("/account/security")
    stored = db.session.scalar(select(WebAuthnCredential).where(WebAuthnCredential.credential_id == key.credential_id))
    assert stored is not None
    return stored


def start_key_login(client: FlaskClient, user, password: str = "correct horse battery staple"):  # type: ignore[no-untyped-def]
    """Password step, then the key options from the second-factor page."""
    response = AuthActions(client).password_step(user.email, password)
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get("/login/verify").get_data(as_text=True)
    assert 'id="webauthn-login"' in page
    token = DATA_CSRF.search(page).group(1)  # type: ignore[union-attr]
    response = post_json(client, "/webauthn/login/options", token)
    assert response.status_code == 200, response.get_data(as_text=True)
    return token, response.get_json()


def key_login(client: FlaskClient, user, key: SoftKey, **assertion_changes: Any):  # type: ignore[no-untyped-def]
    token, options = start_key_login(client, user)
    return post_json(client, "/webauthn/login/verify", token,
                     {"credential": key.assertion(options, **assertion_changes)})


def count(model: Any, *where: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def audits(action: str, outcome: str = "success") -> list[AuditEvent]:
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action,
                                                            AuditEvent.outcome == outcome)))


def details(event: AuditEvent) -> dict[str, Any]:
    return json.loads(event.details)


def signed_in(client: FlaskClient) -> bool:
    return client.get("/dashboard").status_code == 200


# -- registration ------------------------------------------------------------------------------

def test_register_a_key_and_sign_in_with_it(client, auth, users):
    user = users["member_nl"]
    auth.login(user)
    key = SoftKey()
    stored = register_key(client, key, "  My YubiKey  ")
    assert (stored.user_id, stored.name, stored.sign_count) == (user.id, "My YubiKey", 0)
    assert stored.transports == ["usb", "nfc"] and stored.last_used_at is None
    [event] = audits("mfa.webauthn.register")
    assert event.actor_id == user.id and event.target_id == str(stored.id)
    page = client.get("/account/security").get_data(as_text=True)
    assert "My YubiKey" in page and "was registered" in page
    auth.logout()

    response = key_login(client, user, key)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json() == {"redirect": "/dashboard"}
    assert signed_in(client)
    db.session.refresh(stored)
    assert stored.sign_count == 1 and stored.last_used_at is not None
    logins = [e for e in audits("auth.login") if details(e).get("mfa") == "webauthn"]
    assert len(logins) == 1


def test_registration_options(client, auth, users):
    user = users["member_nl"]
    auth.login(user)
    key = SoftKey()
    register_key(client, key)
    _, options = register_options(client)
    assert options["rp"] == {"id": "localhost", "name": "Secure Platform on Cooperation"}
    assert options["user"]["name"] == user.email
    assert user.email not in options["user"]["id"]  # an opaque handle, no personal data
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    assert options["authenticatorSelection"]["residentKey"] == "preferred"
    assert [c["id"] for c in options["excludeCredentials"]] == [key.id]
    assert options["excludeCredentials"][0]["transports"] == ["usb", "nfc"]


def test_registration_uses_configured_relying_party(make_app, users):
    app = make_app(webauthn_rp_id="coop.example.org", webauthn_origin="https://coop.example.org")
    app.test_client_class = CommittingClient
    client = app.test_client()
    AuthActions(client).login(users["member_nl"])
    token, options = register_options(client)
    assert options["rp"]["id"] == "coop.example.org"
    # The request host (localhost) is not the configured origin: refused.
    refused = post_json(client, "/webauthn/register/verify", token,
                        {"name": "k", "credential": SoftKey().register(options)})
    assert refused.status_code == 400
    token, options = register_options(client)
    ok = post_json(client, "/webauthn/register/verify", token,
                   {"name": "k", "credential": SoftKey(origin="https://coop.example.org").register(options)})
    assert ok.status_code == 200, ok.get_data(as_text=True)


@pytest.mark.parametrize("change", [{"origin": "https://evil.test"}, {"rp_id": "evil.test"},
                                    {"challenge": "A" * 43}])
def test_registration_with_wrong_origin_rp_or_challenge_is_refused(client, auth, users, change):
    auth.login(users["member_nl"])
    token, options = register_options(client)
    response = post_json(client, "/webauthn/register/verify", token,
                         {"name": "Key", "credential": SoftKey().register(options, **change)})
    assert response.status_code == 400
    assert response.get_json() == {"error": "The security key could not be registered. Please try again."}
    assert count(WebAuthnCredential) == 0 and not audits("mfa.webauthn.register")


def test_registration_challenge_is_single_use_and_needed(client, auth, users):
    auth.login(users["member_nl"])
    token = data_csrf(client, "/account/security")
    # No options asked: no challenge to answer.
    orphan = post_json(client, "/webauthn/register/verify", token,
                       {"name": "Key", "credential": SoftKey().register({"rp": {"id": "localhost"},
                                                                         "challenge": "A" * 43})})
    assert orphan.status_code == 400 and "expired" in orphan.get_json()["error"]
    token, options = register_options(client)
    key = SoftKey()
    credential = key.register(options)
    assert post_json(client, "/webauthn/register/verify", token, {"name": "Key", "credential": credential}).status_code == 200
    replay = post_json(client, "/webauthn/register/verify", token, {"name": "Other", "credential": credential})
    assert replay.status_code == 400 and "expired" in replay.get_json()["error"]
    assert count(WebAuthnCredential) == 1


def test_same_key_cannot_be_registered_twice(client, auth, users):
    auth.login(users["member_nl"])
    key = SoftKey()
    register_key(client, key)
    token, options = register_options(client)
    options["excludeCredentials"] = []  # a browser ignoring the exclusion list
    response = post_json(client, "/webauthn/register/verify", token, {"name": "Again", "credential": key.register(options)})
    assert response.status_code == 400 and response.get_json()["error"] == "This security key is already registered."
    assert count(WebAuthnCredential) == 1


@pytest.mark.parametrize("body", [{}, {"current": ""}, {"current": None}, {"current": 123},
                                  {"current": ["correct horse battery staple"]}])
def test_registration_options_need_the_current_password(client, auth, users, body):
    auth.login(users["member_nl"])
    token = data_csrf(client, "/account/security")
    response = post_json(client, "/webauthn/register/options", token, body)
    assert response.status_code == 400
    assert response.get_json() == {"error": "Enter your current password.", "field": "current"}
    assert count(WebAuthnCredential) == 0 and count(LoginFailure) == 0


def test_registration_with_a_wrong_password_is_refused_audited_and_throttled(client, auth, users):
    user = users["member_nl"]
    auth.login(user)
    key = SoftKey()
    # A challenge obtained earlier does not survive a refused re-authentication.
    token, earlier = register_options(client)
    response = post_json(client, "/webauthn/register/options", token, {"current": "not my password"})
    assert response.status_code == 400
    assert response.get_json() == {"error": "Your current password is not correct.", "field": "current"}
    late = post_json(client, "/webauthn/register/verify", token, {"name": "Key", "credential": key.register(earlier)})
    assert late.status_code == 400 and "expired" in late.get_json()["error"]
    assert count(WebAuthnCredential) == 0 and not audits("mfa.webauthn.register")
    [failure] = audits("account.reauth", "failure")
    assert failure.actor_id == user.id and failure.target_id == str(user.id)
    assert PASSWORD not in failure.details and "not my password" not in failure.details
    for _ in range(4):
        post_json(client, "/webauthn/register/options", token, {"current": "still not it"})
    assert count(LoginFailure) == 5 and len(audits("account.reauth", "failure")) == 5
    # The throttle now holds even the right password back.
    paused = post_json(client, "/webauthn/register/options", token, {"current": PASSWORD})
    assert paused.status_code == 400 and "Too many failed attempts" in paused.get_json()["error"]
    assert count(WebAuthnCredential) == 0


def test_registration_form_posts_and_without_javascript_says_so(client, auth, users):
    auth.login(users["member_nl"])
    page = client.get("/account/security").get_data(as_text=True)
    form = re.search(r'<form id="webauthn-register"[^>]*>', page)
    assert form and 'method="post"' in form.group(0) and 'action="/webauthn/register"' in form.group(0)
    assert 'id="key-current"' in page and "<noscript>" in page
    token = csrf_from(page)
    # What a browser without JavaScript sends: the form's fields, in the body.
    response = client.post("/webauthn/register", data={"csrf_token": token, "name": "Key", "current": PASSWORD})
    assert response.status_code == 400
    assert "JavaScript is required to register a security key" in response.get_data(as_text=True)
    assert count(WebAuthnCredential) == 0 and count(LoginFailure) == 0
    assert client.post("/webauthn/register", data={"name": "Key"}).status_code == 400  # CSRF still applies
    auth.logout()
    anonymous = client.post("/webauthn/register", data={"csrf_token": auth.csrf("/login")})
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


@pytest.mark.parametrize("name", ["", "   ", "x" * 101, None])
def test_registration_needs_a_key_name(client, auth, users, name):
    auth.login(users["member_nl"])
    token, options = register_options(client)
    response = post_json(client, "/webauthn/register/verify", token, {"name": name, "credential": SoftKey().register(options)})
    assert response.status_code == 400
    assert response.get_json()["error"] == "Enter a name for the key, up to 100 characters."
    assert count(WebAuthnCredential) == 0


@pytest.mark.parametrize("credential", [None, "garbage", {"id": "x"}, {"id": "AA", "rawId": "AA", "type": "public-key",
                                                                       "response": {"clientDataJSON": "!!",
                                                                                    "attestationObject": "AA"}}])
def test_malformed_registration_is_refused(client, auth, users, credential):
    auth.login(users["member_nl"])
    token, _ = register_options(client)
    response = post_json(client, "/webauthn/register/verify", token, {"name": "Key", "credential": credential})
    assert response.status_code == 400 and "could not be registered" in response.get_json()["error"]
    assert count(WebAuthnCredential) == 0


def test_registration_needs_csrf_and_a_session(client, auth, users):
    anonymous = client.post("/webauthn/register/options", headers={"X-CSRFToken": auth.csrf("/login")})
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    auth.login(users["member_nl"])
    no_token = client.post("/webauthn/register/options", json={}, headers={"Accept": "application/json"})
    assert no_token.status_code == 400 and "error" in no_token.get_json()
    token, options = register_options(client)
    forged = client.post("/webauthn/register/verify", json={"name": "K", "credential": SoftKey().register(options)},
                         headers={"Accept": "application/json", "X-CSRFToken": "forged"})
    assert forged.status_code == 400 and count(WebAuthnCredential) == 0


# -- sign-in --------------------------------------------------------------------------------------

@pytest.fixture
def member_with_key(client, auth, users):  # type: ignore[no-untyped-def]
    user = users["member_nl"]
    auth.login(user)
    key = SoftKey()
    register_key(client, key)
    auth.logout()
    return user, key


def test_login_options_need_a_pending_sign_in(client, users, member_with_key):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    assert post_json(client, "/webauthn/login/options", token).status_code == 404
    # A pending user without a key has nothing to ask for either.
    AuthActions(client).password_step(users["member_sn"].email, "correct horse battery staple")
    assert 'id="webauthn-login"' not in client.get("/login/verify").get_data(as_text=True)
    assert post_json(client, "/webauthn/login/options", token).status_code == 404


def test_login_options_list_only_the_users_keys(client, member_with_key):
    user, key = member_with_key
    _, options = start_key_login(client, user)
    assert [c["id"] for c in options["allowCredentials"]] == [key.id]
    assert options["rpId"] == "localhost" and options["userVerification"] == "preferred"


@pytest.mark.parametrize("change", [{"origin": "https://evil.test"}, {"rp_id": "evil.test"},
                                    {"challenge": "A" * 43}])
def test_login_with_wrong_origin_rp_or_challenge_is_refused(client, member_with_key, change):
    user, key = member_with_key
    response = key_login(client, user, key, **change)
    assert response.status_code == 400
    assert response.get_json()["error"] == "The security key could not be verified. Please try again."
    assert not signed_in(client)
    assert count(LoginFailure) == 1
    assert [details(e)["reason"] for e in audits("auth.login", "failure")] == ["bad_webauthn"]


def test_login_with_another_users_key_is_refused(client, auth, users, member_with_key):
    _, key = member_with_key
    other = users["member_sn"]
    auth.login(other)
    register_key(client, SoftKey())
    auth.logout()
    response = key_login(client, other, key, ignore_allow_list=True)
    assert response.status_code == 400 and not signed_in(client)


def test_login_without_password_step_is_refused(client, member_with_key):
    _, key = member_with_key
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = post_json(client, "/webauthn/login/verify", token,
                         {"credential": key.assertion({"rpId": "localhost", "challenge": "A" * 43})})
    assert response.status_code == 400 and response.get_json()["redirect"] == "/login"
    assert not signed_in(client)


def test_assertion_cannot_be_replayed(client, auth, member_with_key):
    user, key = member_with_key
    token, options = start_key_login(client, user)
    credential = key.assertion(options)
    assert post_json(client, "/webauthn/login/verify", token, {"credential": credential}).status_code == 200
    auth.logout()
    token, _ = start_key_login(client, user)
    replay = post_json(client, "/webauthn/login/verify", token, {"credential": credential})
    assert replay.status_code == 400 and not signed_in(client)


def test_sign_count_that_does_not_advance_is_refused_and_audited(client, auth, member_with_key):
    user, key = member_with_key
    key.sign_count = 41
    assert key_login(client, user, key).status_code == 200  # counter now 42
    auth.logout()
    clone = SoftKey()
    clone.private_key, clone.credential_id, clone.sign_count = key.private_key, key.credential_id, 30
    response = key_login(client, user, clone)  # a copy of the key, with its own counter (31)
    assert response.status_code == 400 and "refused" in response.get_json()["error"]
    assert not signed_in(client)
    stored = db.session.scalar(select(WebAuthnCredential).where(WebAuthnCredential.user_id == user.id))
    assert stored.sign_count == 42
    [alarm] = audits("mfa.webauthn.sign_count", "failure")
    assert details(alarm) == {"stored": 42, "received": 31}
    assert count(LoginFailure) == 1
    # Equal is not greater either.
    clone.sign_count = 41
    assert key_login(client, user, clone).status_code == 400
    # The genuine key, whose counter moved on, still works.
    assert key_login(client, user, key).status_code == 200


def test_key_without_counter_keeps_working(client, auth, users):
    user = users["member_nl"]
    auth.login(user)
    key = SoftKey(counter_step=0)
    register_key(client, key)
    auth.logout()
    for _ in range(2):
        assert key_login(client, user, key).status_code == 200
        auth.logout()


def test_key_failures_count_towards_the_throttle(client, member_with_key):
    user, key = member_with_key
    token, _ = start_key_login(client, user)

    def attempt(**changes: Any):  # type: ignore[no-untyped-def]
        options = post_json(client, "/webauthn/login/options", token).get_json()
        return post_json(client, "/webauthn/login/verify", token, {"credential": key.assertion(options, **changes)})

    for _ in range(5):
        assert attempt(origin="https://evil.test").status_code == 400
    assert count(LoginFailure) == 5
    response = attempt()  # the right key, too late
    assert response.status_code == 400 and "Too many failed attempts" in response.get_json()["error"]
    assert not signed_in(client)
    # The password step is paused as well: same account, same counter.
    assert AuthActions(client).password_step(user.email, "correct horse battery staple").status_code == 400


# -- removal ---------------------------------------------------------------------------------------

def test_removing_a_key_needs_the_current_password(client, auth, users):
    user = users["member_nl"]
    auth.login(user)
    stored = register_key(client, SoftKey(), "Old key")
    url = f"/webauthn/keys/{stored.id}/remove"
    token = auth.csrf("/account/security")
    missing = client.post(url, data={"csrf_token": token})
    assert missing.status_code == 400 and "Enter your current password" in missing.get_data(as_text=True)
    wrong = client.post(url, data={"csrf_token": token, "current": "not my password"})
    assert wrong.status_code == 400 and "Your current password is not correct." in wrong.get_data(as_text=True)
    assert client.post(url, data={"current": "correct horse battery staple"}).status_code == 400  # no CSRF
    assert count(WebAuthnCredential) == 1 and not audits("mfa.webauthn.remove")
    assert len(audits("account.reauth", "failure")) == 1 and count(LoginFailure) == 1  # throttled like sign-in
    key_id = stored.id
    ok = client.post(url, data={"csrf_token": token, "current": "correct horse battery staple"})
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/account/security")
    assert count(WebAuthnCredential) == 0
    [event] = audits("mfa.webauthn.remove")
    assert details(event) == {"name": "Old key"} and event.target_id == str(key_id)


def test_only_ones_own_key_can_be_removed(client, auth, users, member_with_key):
    stored = db.session.scalar(select(WebAuthnCredential))
    auth.login(users["focal_nl"])  # same State, still not their key
    token = auth.csrf("/account/security")
    response = client.post(f"/webauthn/keys/{stored.id}/remove",
                           data={"csrf_token": token, "current": "correct horse battery staple"})
    assert response.status_code == 404
    assert client.post("/webauthn/keys/999999/remove", data={"csrf_token": token}).status_code == 404
    assert count(WebAuthnCredential) == 1


# -- Secretariat administrators --------------------------------------------------------------------

@pytest.fixture
def admin_client(make_app, users):  # type: ignore[no-untyped-def]
    """An application with require_webauthn_for_admins on (make_app first: it cleans the tables)."""
    app = make_app(require_webauthn_for_admins=True)
    app.test_client_class = CommittingClient
    return app.test_client()


def test_admin_without_key_is_held_on_the_security_page(admin_client, users):
    client, admin = admin_client, users["admin"]
    response = AuthActions(client).login(admin)
    assert response.headers["Location"].endswith("/account/security")
    for path in ("/dashboard", "/account", "/account/sessions", "/admin/audit/"):
        held = client.get(path)
        assert held.status_code == 302 and held.headers["Location"].endswith("/account/security"), path
    page = client.get("/account/security")
    assert page.status_code == 200 and "must register a security key" in page.get_data(as_text=True)
    assert client.get("/account/recovery-codes").status_code == 302  # reachable; nothing to show
    json_held = client.get("/dashboard", headers={"Accept": "application/json"})
    assert json_held.status_code == 403 and "security key" in json_held.get_json()["error"]
    script = client.get("/static/js/webauthn.js")
    assert script.status_code == 200
    script.close()
    register_key(client, SoftKey())
    assert client.get("/dashboard").status_code == 200
    assert AuthActions(client).logout().status_code == 302


def test_other_roles_are_not_held(admin_client, users):
    AuthActions(admin_client).login(users["focal_nl"])
    assert admin_client.get("/dashboard").status_code == 200


def test_admin_with_key_must_sign_in_with_it(admin_client, users):
    client, admin = admin_client, users["admin"]
    auth = AuthActions(client)
    auth.login(admin)
    key = SoftKey()
    register_key(client, key)
    auth.logout()
    auth.password_step(admin.email, "correct horse battery staple")
    page = client.get("/login/verify").get_data(as_text=True)
    assert 'name="totp-code"' not in page
    from tests.conftest import fresh_totp_code

    totp = client.post("/login/verify", data={"method": "totp", "totp-code": fresh_totp_code(admin),
                                              "totp-csrf_token": csrf_from(page)})
    assert totp.status_code == 400 and not signed_in(client)
    response = key_login(client, admin, key)
    assert response.status_code == 200 and signed_in(client)


def test_admin_cannot_remove_the_last_key(admin_client, users):
    client, admin = admin_client, users["admin"]
    AuthActions(client).login(admin)
    first = register_key(client, SoftKey(), "First")
    token = AuthActions(client).csrf("/account/security")
    refused = client.post(f"/webauthn/keys/{first.id}/remove",
                          data={"csrf_token": token, "current": "correct horse battery staple"})
    assert refused.status_code == 400 and "must keep at least one security key" in refused.get_data(as_text=True)
    assert count(WebAuthnCredential) == 1
    register_key(client, SoftKey(), "Second")
    removed = client.post(f"/webauthn/keys/{first.id}/remove",
                          data={"csrf_token": token, "current": "correct horse battery staple"})
    assert removed.status_code == 302
    assert [k.name for k in db.session.scalars(select(WebAuthnCredential))] == ["Second"]
