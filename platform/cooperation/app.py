"""Application factory: the one place that wires settings, extensions, blueprints and plugins."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from cooperation import lookups, permissions
from cooperation.config import REPO_ROOT, Settings
from cooperation.extensions import babel, csrf, db, login_manager
from cooperation.ops import init_app as init_operations
from cooperation.plugins import Plugin, load_enabled, register

TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def create_app(settings: Settings | None = None, *,
               available_plugins: Mapping[str, Callable[[], Plugin]] | None = None) -> Flask:
    settings = (settings or Settings.from_env()).resolved().validate()
    app = Flask(
        "cooperation",
        template_folder=str(REPO_ROOT / "templates"),
        static_folder=str(REPO_ROOT / "static"),
        instance_path=settings.instance_path,
    )
    _configure(app, settings)
    if settings.trusted_proxy_hops:
        # Trust exactly the configured number of proxies for the client address (ASVS 15.3.4).
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxy_hops,  # type: ignore[method-assign]
                                x_proto=settings.trusted_proxy_hops, x_host=0)

    _init_extensions(app)
    _register_core(app)
    init_operations(app)  # request ids and JSON logs, /metrics, the shared rate limiter
    register(app, load_enabled(settings.enabled_plugins, available_plugins))
    return app


def _configure(app: Flask, s: Settings) -> None:
    secure = s.session_cookie_secure
    app.config.update(
        COOPERATION_SETTINGS=s,
        ENV_NAME=s.env,
        TESTING=s.env == "testing",
        SECRET_KEY=s.secret_key,
        SQLALCHEMY_DATABASE_URI=s.database_url,
        SQLALCHEMY_ENGINE_OPTIONS=_engine_options(s.database_url),
        SQLALCHEMY_TRACK_MODIFICATIONS=False,
        PREFERRED_URL_SCHEME=s.preferred_url_scheme,
        SERVER_NAME=s.server_name or None,
        # __Host- prefix: Secure, path=/, no Domain; the cookie cannot be set by a sibling host.
        SESSION_COOKIE_NAME="__Host-session" if secure else "session",
        SESSION_COOKIE_SECURE=secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_IDLE_MINUTES=s.session_idle_minutes,
        SESSION_LIFETIME_HOURS=s.session_lifetime_hours,
        WTF_CSRF_TIME_LIMIT=None,  # bound to the session, which already expires
        WTF_CSRF_SSL_STRICT=True,
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,  # forms; attachment uploads stream separately
        MAIL_BACKEND=s.mail_backend,
        MAIL_SERVER=s.mail_server,
        MAIL_PORT=s.mail_port,
        MAIL_USE_TLS=s.mail_use_tls,
        MAIL_USE_SSL=s.mail_use_ssl,
        MAIL_USERNAME=s.mail_username,
        MAIL_PASSWORD=s.mail_password,
        MAIL_DEFAULT_SENDER=s.mail_default_sender,
        MAIL_TIMEOUT=s.mail_timeout,
        BABEL_DEFAULT_LOCALE=s.default_locale,
        BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS),
    )
    app.config.update(dict(s.extra))
    Path(s.instance_path).mkdir(parents=True, exist_ok=True)
    if s.env == "production":
        logging.getLogger("werkzeug").setLevel(logging.WARNING)


def _engine_options(url: str) -> dict[str, object]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 5}}
    # Recovery from a restarted database without restarting the app: cooperation.liveness.
    return {"pool_size": 5, "max_overflow": 5, "pool_timeout": 10,
            "connect_args": {"connect_timeout": 5, "options": "-c statement_timeout=30000"}}


def _init_extensions(app: Flask) -> None:
    from cooperation.i18n import select_locale
    from cooperation.security.sessions import DatabaseSessionInterface

    db.init_app(app)
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        from cooperation.liveness import IDLE_PING_SECONDS, ping_idle_connections

        with app.app_context():
            ping_idle_connections(db.engine, float(app.config.get("DB_IDLE_PING_SECONDS", IDLE_PING_SECONDS)))
    csrf.init_app(app)
    from cooperation import oauth

    # OAuth device flow and bearer tokens on /api/; its CSRF check (cookie requests only)
    # takes the place of Flask-WTF's, at the same point in the before-request order.
    oauth.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = None  # sessions are server-side and rotated at login
    app.session_interface = DatabaseSessionInterface()


def _register_core(app: Flask) -> None:
    from cooperation.accounts.views import bp as accounts_bp
    from cooperation.audit.cli import audit_cli
    from cooperation.audit.views import bp as audit_bp
    from cooperation.auth.views import bp as auth_bp
    from cooperation.cli import register_cli
    from cooperation.dashboard.views import bp as dashboard_bp
    from cooperation.errors import register_error_handlers
    from cooperation.health import bp as health_bp
    from cooperation.membership.views import bp as membership_bp
    from cooperation.navigation import nav_for_current_user
    from cooperation.questionnaires.cli import questionnaires_cli
    from cooperation.questionnaires.views import bp as questionnaires_bp
    from cooperation.security.headers import apply_security_headers
    from cooperation.security.loader import load_user
    from cooperation.security.webauthn_views import bp as webauthn_bp
    from cooperation.security.webauthn_views import require_admin_key

    login_manager.user_loader(load_user)
    for bp in (auth_bp, accounts_bp, webauthn_bp, dashboard_bp, membership_bp, audit_bp, health_bp):
        app.register_blueprint(bp)
    from cooperation.caselaw.views import bp as caselaw_bp

    app.register_blueprint(caselaw_bp)
    app.register_blueprint(questionnaires_bp)
    from cooperation.threads.api import bp as threads_api_bp
    from cooperation.threads.cli import threads_cli

    app.register_blueprint(threads_api_bp)  # JSON errors: its own handlers and errors.py for /api/
    from cooperation.threads.views import bp as threads_bp

    app.register_blueprint(threads_bp)
    app.cli.add_command(threads_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(questionnaires_cli)
    register_cli(app)
    register_error_handlers(app)
    app.before_request(permissions.enforce_declared_views)
    app.before_request(require_admin_key)
    app.after_request(lambda response: apply_security_headers(app, response))

    @app.context_processor
    def inject_globals() -> dict[str, object]:
        from flask_babel import get_locale

        from cooperation.i18n import LANGUAGES

        return {
            "get_locale": lambda: str(get_locale() or "en"),
            "nav_items": nav_for_current_user,
            "has_permission": permissions.has_permission,
            "languages": LANGUAGES,
            "demo_mode": app.config["COOPERATION_SETTINGS"].demo_mode,
        }

    @app.teardown_request
    def _end_request_session(_: BaseException | None) -> None:
        db.session.remove()
        lookups.release()
