"""Settings: production refuses unsafe values and names the setting; every documented variable
is read from the environment; an optional JSON file; safe production defaults."""

from __future__ import annotations

import json
from dataclasses import fields, replace

import pytest

from cooperation.config import ConfigError, Settings

SAFE_PRODUCTION = Settings(
    env="production", secret_key="k" * 20 + "Zq8#pL0@vX3!mN7$rT5%",
    database_url="postgresql+psycopg://coop@db.internal/coop", server_name="coop.example.org",
    preferred_url_scheme="https", session_cookie_secure=True, mail_backend="smtp",
    mail_server="smtp.example.org", trusted_proxy_hops=1,
)


def refusal(settings: Settings) -> str:
    with pytest.raises(ConfigError) as info:
        settings.validate()
    return str(info.value)


def test_a_safe_production_configuration_starts():
    assert SAFE_PRODUCTION.validate() is SAFE_PRODUCTION


@pytest.mark.parametrize(("change", "named"), [
    ({"database_url": "sqlite:////srv/coop.sqlite3"}, "DATABASE_URL"),
    ({"secret_key": ""}, "SECRET_KEY"),
    ({"secret_key": "short-secret"}, "SECRET_KEY"),
    ({"secret_key": "changeme"}, "SECRET_KEY"),
    ({"session_cookie_secure": False}, "SESSION_COOKIE_SECURE"),
    ({"preferred_url_scheme": "http"}, "PREFERRED_URL_SCHEME"),
    ({"mail_backend": "console"}, "MAIL_BACKEND"),
    ({"mail_server": ""}, "MAIL_SERVER"),
    ({"server_name": ""}, "SERVER_NAME"),
    ({"demo_mode": True}, "demo"),
])
def test_production_refuses_unsafe_values_and_names_the_setting(change, named):
    message = refusal(replace(SAFE_PRODUCTION, **change))
    assert named in message
    # Only the faulty setting is reported.
    assert message.count("\n  - ") == 1, message


def test_production_reports_every_problem_at_once():
    message = refusal(Settings(env="production"))
    for name in ("SECRET_KEY", "DATABASE_URL", "SERVER_NAME", "MAIL_BACKEND"):
        assert name in message


def test_production_never_gets_a_generated_secret(tmp_path):
    resolved = replace(SAFE_PRODUCTION, secret_key="", instance_path=str(tmp_path)).resolved()
    assert resolved.secret_key == ""
    assert "SECRET_KEY" in refusal(resolved)


def test_production_without_database_url_falls_back_to_sqlite_and_is_refused(tmp_path):
    resolved = replace(SAFE_PRODUCTION, database_url="", instance_path=str(tmp_path)).resolved()
    assert "DATABASE_URL" in refusal(resolved)


def test_unknown_environment_is_refused():
    assert "COOPERATION_ENV" in refusal(Settings(env="staging"))


def test_development_defaults_work_out_of_the_box(tmp_path):
    resolved = Settings(instance_path=str(tmp_path)).resolved().validate()
    assert resolved.database_url.startswith("sqlite:///")
    assert len(resolved.secret_key) >= 32
    # The generated key is kept per checkout and readable by the owner only.
    key_file = tmp_path / "secret_key"
    assert key_file.stat().st_mode & 0o077 == 0
    assert Settings(instance_path=str(tmp_path)).resolved().secret_key == resolved.secret_key


ENVIRONMENT = {
    "COOPERATION_ENV": ("testing", "env", "testing"),
    "SECRET_KEY": ("s" * 40, "secret_key", "s" * 40),
    "DATABASE_URL": ("postgresql+psycopg://u@h/d", "database_url", "postgresql+psycopg://u@h/d"),
    "COOPERATION_INSTANCE_PATH": ("/srv/instance", "instance_path", "/srv/instance"),
    "SERVER_NAME": ("coop.example.org", "server_name", "coop.example.org"),
    "PREFERRED_URL_SCHEME": ("https", "preferred_url_scheme", "https"),
    "SESSION_IDLE_MINUTES": ("17", "session_idle_minutes", 17),
    "SESSION_LIFETIME_HOURS": ("9", "session_lifetime_hours", 9),
    "SESSION_COOKIE_SECURE": ("true", "session_cookie_secure", True),
    "MAIL_BACKEND": ("smtp", "mail_backend", "smtp"),
    "MAIL_SERVER": ("smtp.example.org", "mail_server", "smtp.example.org"),
    "MAIL_PORT": ("2525", "mail_port", 2525),
    "MAIL_USE_TLS": ("yes", "mail_use_tls", True),
    "MAIL_USE_SSL": ("1", "mail_use_ssl", True),
    "MAIL_USERNAME": ("mailer", "mail_username", "mailer"),
    "MAIL_PASSWORD": ("mail-pass", "mail_password", "mail-pass"),
    "MAIL_DEFAULT_SENDER": ("coop@example.org", "mail_default_sender", "coop@example.org"),
    "MAIL_TIMEOUT": ("4", "mail_timeout", 4),
    "INVITATION_VALID_HOURS": ("24", "invitation_valid_hours", 24),
    "LOGIN_MAX_FAILURES_PER_ACCOUNT": ("3", "login_max_failures_per_account", 3),
    "LOGIN_MAX_FAILURES_PER_ADDRESS": ("11", "login_max_failures_per_address", 11),
    "LOGIN_FAILURE_WINDOW_MINUTES": ("7", "login_failure_window_minutes", 7),
    "REQUIRE_WEBAUTHN_FOR_ADMINS": ("on", "require_webauthn_for_admins", True),
    "WEBAUTHN_RP_ID": ("coop.example.org", "webauthn_rp_id", "coop.example.org"),
    "WEBAUTHN_RP_NAME": ("Coop", "webauthn_rp_name", "Coop"),
    "WEBAUTHN_ORIGIN": ("https://coop.example.org", "webauthn_origin", "https://coop.example.org"),
    "TRUSTED_PROXY_HOPS": ("1", "trusted_proxy_hops", 1),
    "COOPERATION_PLUGINS": ("directory, other", "enabled_plugins", ("directory", "other")),
    "DEFAULT_LOCALE": ("fr", "default_locale", "fr"),
    "COOPERATION_DEMO": ("true", "demo_mode", True),
    "LOG_FORMAT": ("json", "log_format", "json"),
    "LOG_LEVEL": ("WARNING", "log_level", "WARNING"),
    "METRICS_ALLOWED_NETWORKS": ("10.0.0.0/8, ::1/128", "metrics_allowed_networks", ("10.0.0.0/8", "::1/128")),
    "RATE_LIMIT_INVITATIONS": ("5/minute", "rate_limit_invitations", "5/minute"),
    "RATE_LIMIT_REAUTH": ("3/hour", "rate_limit_reauth", "3/hour"),
    "RATE_LIMIT_EXPORTS": ("100/day", "rate_limit_exports", "100/day"),
    "PG_BINDIR": ("/usr/lib/postgresql/15/bin", "pg_bindir", "/usr/lib/postgresql/15/bin"),
}


def test_from_env_reads_every_documented_variable():
    settings = Settings.from_env({var: raw for var, (raw, _, _) in ENVIRONMENT.items()})
    for var, (_, name, expected) in ENVIRONMENT.items():
        assert getattr(settings, name) == expected, var


def test_every_setting_can_be_set_from_the_environment():
    # A new setting must be given an environment variable (and so be documented) on purpose.
    configurable = {name for _, name, _ in ENVIRONMENT.values()}
    assert {f.name for f in fields(Settings)} - configurable == {"extra"}


def test_from_env_with_nothing_set_gives_development_defaults():
    settings = Settings.from_env({})
    assert settings.env == "development"
    assert settings.require_webauthn_for_admins is False


def test_from_env_refuses_a_non_numeric_value():
    with pytest.raises(ConfigError, match="session_idle_minutes"):
        Settings.from_env({"SESSION_IDLE_MINUTES": "thirty"})


def test_config_file_is_read_and_the_environment_wins(tmp_path):
    path = tmp_path / "coop.json"
    path.write_text(json.dumps({"server_name": "file.example.org", "mail_port": 587,
                                "enabled_plugins": ["directory"], "session_idle_minutes": 20}))
    settings = Settings.from_env({"COOPERATION_CONFIG": str(path), "SESSION_IDLE_MINUTES": "10"})
    assert settings.server_name == "file.example.org"
    assert settings.mail_port == 587
    assert settings.enabled_plugins == ("directory",)
    assert settings.session_idle_minutes == 10


def test_config_file_errors_name_the_file(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ConfigError, match="COOPERATION_CONFIG"):
        Settings.from_env({"COOPERATION_CONFIG": str(broken)})
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="JSON object"):
        Settings.from_env({"COOPERATION_CONFIG": str(listing)})
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"no_such_setting": 1}))
    with pytest.raises(ConfigError, match="no_such_setting"):
        Settings.from_env({"COOPERATION_CONFIG": str(unknown)})
    with pytest.raises(ConfigError, match="COOPERATION_CONFIG"):
        Settings.from_env({"COOPERATION_CONFIG": str(tmp_path / "missing.json")})


PRODUCTION_ENV = {
    "COOPERATION_ENV": "production", "SECRET_KEY": SAFE_PRODUCTION.secret_key,
    "DATABASE_URL": SAFE_PRODUCTION.database_url, "SERVER_NAME": "coop.example.org",
    "PREFERRED_URL_SCHEME": "https", "MAIL_BACKEND": "smtp", "MAIL_SERVER": "smtp.example.org",
}


def test_production_defaults_are_safe():
    settings = Settings.from_env(PRODUCTION_ENV)
    assert settings.require_webauthn_for_admins is True
    assert settings.session_cookie_secure is True
    assert settings.validate() is settings


def test_production_webauthn_for_admins_can_be_turned_off_explicitly():
    settings = Settings.from_env({**PRODUCTION_ENV, "REQUIRE_WEBAUTHN_FOR_ADMINS": "false"})
    assert settings.require_webauthn_for_admins is False


def test_production_cookie_secure_false_is_refused():
    settings = Settings.from_env({**PRODUCTION_ENV, "SESSION_COOKIE_SECURE": "false"})
    assert "SESSION_COOKIE_SECURE" in refusal(settings)


def test_create_app_refuses_unsafe_production(tmp_path):
    from cooperation import create_app

    with pytest.raises(ConfigError, match="DATABASE_URL"):
        create_app(replace(SAFE_PRODUCTION, database_url=f"sqlite:///{tmp_path}/x.sqlite3",
                           instance_path=str(tmp_path)))
