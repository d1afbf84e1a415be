"""Security headers, cookie attributes, templates that keep the strict CSP, and error pages
that leak nothing (ASVS 3.4, 14.3, 16.5)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import text

from cooperation import permissions as p
from cooperation.config import REPO_ROOT
from cooperation.extensions import db


def _csp(response) -> dict[str, str]:  # type: ignore[no-untyped-def]
    policy = response.headers["Content-Security-Policy"]
    directives = {}
    for part in policy.split(";"):
        name, _, value = part.strip().partition(" ")
        directives[name] = value.strip()
    return directives


@pytest.mark.parametrize("path", ["/login", "/healthz", "/no-such-page", "/dashboard"])
def test_strict_content_security_policy(client, path):
    response = client.get(path)
    policy = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy and "*" not in policy
    csp = _csp(response)
    assert csp["default-src"] == "'none'"
    assert csp["script-src"] == "'self'"
    assert csp["style-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'"
    assert csp["object-src"] == "'none'"
    assert csp["base-uri"] == "'none'"
    assert csp["form-action"] == "'self'"


def test_other_security_headers_on_pages(client, auth, users):
    for response in (client.get("/login"), client.get("/no-such-page")):
        h = response.headers
        assert h["X-Content-Type-Options"] == "nosniff"
        assert h["X-Frame-Options"] == "DENY"
        assert h["Referrer-Policy"] == "same-origin"
        assert "camera=()" in h["Permissions-Policy"] and "geolocation=()" in h["Permissions-Policy"]
        assert "no-store" in h["Cache-Control"]
        assert "Server" not in h
        # Plain HTTP settings (tests): no HSTS, which would only be ignored or pin a dev host.
        assert "Strict-Transport-Security" not in h
    auth.login(users["member_nl"])
    response = client.get("/dashboard")
    assert response.status_code == 200
    assert "no-store" in response.headers["Cache-Control"]


def test_static_files_carry_the_headers_but_may_be_cached(client):
    response = client.get("/static/js/webauthn.js")
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" not in response.headers.get("Cache-Control", "")
    response.close()


def test_https_settings_send_hsts_and_a_host_prefixed_secure_cookie(make_app):
    app = make_app(session_cookie_secure=True)
    client = app.test_client()
    response = client.get("/login", base_url="https://localhost")
    hsts = response.headers["Strict-Transport-Security"]
    assert re.search(r"max-age=(\d+)", hsts) and int(re.search(r"max-age=(\d+)", hsts).group(1)) >= 31536000
    cookies = response.headers.getlist("Set-Cookie")
    session_cookie = next(c for c in cookies if c.startswith("__Host-session="))
    attributes = {a.strip().split("=")[0].lower() for a in session_cookie.split(";")[1:]}
    assert {"secure", "httponly", "path"} <= attributes
    assert "domain" not in attributes  # __Host- forbids it
    assert "SameSite=Lax" in session_cookie
    assert "Path=/" in session_cookie


def test_plain_settings_cookie_is_httponly_and_lax(client):
    response = client.get("/login")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie


# -- templates ------------------------------------------------------------------------------

def _template_files() -> list[Path]:
    roots = [REPO_ROOT / "templates", *sorted((REPO_ROOT / "plugins").glob("*/templates"))]
    files = [f for root in roots for f in root.rglob("*.html")]
    assert len(files) > 10
    return files


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc\s*=)[^>]*>", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE)
STYLE_BLOCK = re.compile(r"<style\b", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
NON_MODULE_SCRIPT = re.compile(r"<script\b(?![^>]*type=\"module\")[^>]*>", re.IGNORECASE)


@pytest.mark.parametrize(("pattern", "what"), [
    (INLINE_SCRIPT, "inline <script> without src"),
    (STYLE_ATTRIBUTE, "style= attribute"),
    (STYLE_BLOCK, "<style> block"),
    (EVENT_HANDLER, "inline event handler (onclick=...)"),
    (NON_MODULE_SCRIPT, "script that is not an ES module"),
])
def test_templates_respect_the_strict_csp(pattern, what):
    offenders = []
    for path in _template_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(REPO_ROOT)}:{number}: {line.strip()[:100]}")
    assert not offenders, f"{what}:\n" + "\n".join(offenders)


def test_the_template_scan_detects_offences():
    assert INLINE_SCRIPT.search('<script>alert(1)</script>')
    assert not INLINE_SCRIPT.search('<script type="module" src="/static/js/x.js"></script>')
    assert STYLE_ATTRIBUTE.search('<p class="x" style="color:red">')
    assert not STYLE_ATTRIBUTE.search('<p class="style">')
    assert EVENT_HANDLER.search('<button onclick="go()">')


# -- error pages ------------------------------------------------------------------------------

SECRET_MARKERS = ("Traceback", "File \"", "RuntimeError", "OperationalError", "ProgrammingError",
                  "SELECT", "sqlalchemy", "sqlite", "psycopg", "no_such_table", "werkzeug")


def _assert_leaks_nothing(response, secret_key: str) -> None:  # type: ignore[no-untyped-def]
    body = response.get_data(as_text=True)
    for marker in SECRET_MARKERS:
        assert marker not in body, marker
    assert secret_key not in body
    assert "test-secret-key" not in body
    assert response.headers["Content-Security-Policy"]


@pytest.fixture
def boom_app(make_app):  # type: ignore[no-untyped-def]
    app = make_app()

    @app.get("/test-only/boom")
    @p.public
    def boom():  # type: ignore[no-untyped-def]
        raise RuntimeError(f"SELECT secret FROM vault -- {app.config['SECRET_KEY']}")

    @app.get("/test-only/sql")
    @p.public
    def bad_sql():  # type: ignore[no-untyped-def]
        db.session.execute(text("SELECT * FROM no_such_table"))
        return "unreachable"

    return app


@pytest.mark.parametrize("path", ["/test-only/boom", "/test-only/sql"])
def test_500_page_leaks_nothing(boom_app, path, caplog):
    response = boom_app.test_client().get(path)
    assert response.status_code == 500
    _assert_leaks_nothing(response, boom_app.config["SECRET_KEY"])
    assert "Something went wrong" in response.get_data(as_text=True)
    # The details go to the server log instead.
    assert any("unhandled error" in r.getMessage() for r in caplog.records)


def test_404_page_leaks_nothing(client, app):
    response = client.get("/admin/../../etc/passwd")
    assert response.status_code == 404
    _assert_leaks_nothing(response, app.config["SECRET_KEY"])
    assert "does not exist" in response.get_data(as_text=True)


def test_405_page_leaks_nothing(client, app):
    response = client.get("/logout")
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    _assert_leaks_nothing(response, app.config["SECRET_KEY"])


def test_csrf_failure_page_leaks_nothing(client, app):
    response = client.post("/login", data={"email": "a@b.test", "password": "x" * 12})
    assert response.status_code == 400
    _assert_leaks_nothing(response, app.config["SECRET_KEY"])
    assert "reload the page" in response.get_data(as_text=True)
    assert "CSRF" not in response.get_data(as_text=True)


def test_json_errors_leak_nothing(boom_app):
    response = boom_app.test_client().get("/test-only/boom", headers={"Accept": "application/json"})
    assert response.status_code == 500
    assert response.is_json and set(response.get_json()) == {"error", "status"}
    _assert_leaks_nothing(response, boom_app.config["SECRET_KEY"])
