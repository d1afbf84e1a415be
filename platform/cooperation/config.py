"""Settings: one frozen dataclass, read from the environment (and an optional file).

With nothing set, the embedded default (SQLite under ./instance, mail printed to the console)
works out of the box. With COOPERATION_ENV=production, unsafe values stop start-up with a
message that says which setting is wrong and why.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

# platform/cooperation/config.py -> repository root
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_INSTANCE = REPO_ROOT / "instance"


class ConfigError(RuntimeError):
    """A setting is missing or unsafe; the message names it."""


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


@dataclass(frozen=True)
class Settings:
    env: str = "development"  # development | production | testing
    secret_key: str = ""
    database_url: str = ""
    instance_path: str = str(DEFAULT_INSTANCE)
    server_name: str = ""  # host[:port] used in links sent by mail
    preferred_url_scheme: str = "http"
    # Sessions (NIST SP 800-63B-4 AAL2: idle <= 1 h, overall <= 24 h; we default stricter).
    session_idle_minutes: int = 30
    session_lifetime_hours: int = 12
    session_cookie_secure: bool = False
    # Mail
    mail_backend: str = "console"  # console | smtp
    mail_server: str = "localhost"
    mail_port: int = 25
    mail_use_tls: bool = False  # STARTTLS
    mail_use_ssl: bool = False
    mail_username: str = ""
    mail_password: str = ""
    mail_default_sender: str = "no-reply@cooperation.invalid"
    mail_timeout: int = 10
    # Onboarding and login
    invitation_valid_hours: int = 72
    login_max_failures_per_account: int = 5
    login_max_failures_per_address: int = 20
    login_failure_window_minutes: int = 15
    require_webauthn_for_admins: bool = False
    webauthn_rp_id: str = ""  # defaults to the host of server_name, or localhost
    webauthn_rp_name: str = "Secure Platform on Cooperation"
    webauthn_origin: str = ""  # defaults to scheme://server_name
    # Proxies: how many reverse proxies set X-Forwarded-For in front of the app (exactly one
    # behind nginx). 0 means the socket address is the client.
    trusted_proxy_hops: int = 0
    # Plugins: an allow-list; a name that is not installed stops start-up.
    enabled_plugins: tuple[str, ...] = ("directory", "noncooperation", "agreements", "travel")
    default_locale: str = "en"
    demo_mode: bool = False
    # Operations (cooperation/ops): logs, metrics, limits shared by every instance, backups.
    log_format: str = ""  # json | text; empty means json in production, text otherwise
    log_level: str = "INFO"
    metrics_allowed_networks: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    # "COUNT/PERIOD" (PERIOD: minute, hour or day) per user, counted in the database so that a
    # limit of 5 allows 5 in total over every worker and instance, not 5 per process.
    rate_limit_invitations: str = "30/hour"
    rate_limit_reauth: str = "10/hour"
    rate_limit_exports: str = "60/hour"
    pg_bindir: str = ""  # where pg_dump/pg_restore live; empty: the newest /usr/lib/postgresql/*/bin
    extra: Mapping[str, Any] = field(default_factory=dict)

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        values: dict[str, Any] = {}
        config_file = env.get("COOPERATION_CONFIG")
        if config_file:
            values.update(_read_config_file(Path(config_file)))
        mapping = {
            "COOPERATION_ENV": "env",
            "SECRET_KEY": "secret_key",
            "DATABASE_URL": "database_url",
            "COOPERATION_INSTANCE_PATH": "instance_path",
            "SERVER_NAME": "server_name",
            "PREFERRED_URL_SCHEME": "preferred_url_scheme",
            "SESSION_IDLE_MINUTES": "session_idle_minutes",
            "SESSION_LIFETIME_HOURS": "session_lifetime_hours",
            "SESSION_COOKIE_SECURE": "session_cookie_secure",
            "MAIL_BACKEND": "mail_backend",
            "MAIL_SERVER": "mail_server",
            "MAIL_PORT": "mail_port",
            "MAIL_USE_TLS": "mail_use_tls",
            "MAIL_USE_SSL": "mail_use_ssl",
            "MAIL_USERNAME": "mail_username",
            "MAIL_PASSWORD": "mail_password",
            "MAIL_DEFAULT_SENDER": "mail_default_sender",
            "MAIL_TIMEOUT": "mail_timeout",
            "INVITATION_VALID_HOURS": "invitation_valid_hours",
            "LOGIN_MAX_FAILURES_PER_ACCOUNT": "login_max_failures_per_account",
            "LOGIN_MAX_FAILURES_PER_ADDRESS": "login_max_failures_per_address",
            "LOGIN_FAILURE_WINDOW_MINUTES": "login_failure_window_minutes",
            "REQUIRE_WEBAUTHN_FOR_ADMINS": "require_webauthn_for_admins",
            "WEBAUTHN_RP_ID": "webauthn_rp_id",
            "WEBAUTHN_RP_NAME": "webauthn_rp_name",
            "WEBAUTHN_ORIGIN": "webauthn_origin",
            "TRUSTED_PROXY_HOPS": "trusted_proxy_hops",
            "COOPERATION_PLUGINS": "enabled_plugins",
            "DEFAULT_LOCALE": "default_locale",
            "COOPERATION_DEMO": "demo_mode",
            "LOG_FORMAT": "log_format",
            "LOG_LEVEL": "log_level",
            "METRICS_ALLOWED_NETWORKS": "metrics_allowed_networks",
            "RATE_LIMIT_INVITATIONS": "rate_limit_invitations",
            "RATE_LIMIT_REAUTH": "rate_limit_reauth",
            "RATE_LIMIT_EXPORTS": "rate_limit_exports",
            "PG_BINDIR": "pg_bindir",
        }
        for var, name in mapping.items():
            if var in env:
                values[name] = env[var]
        settings = cls(**_coerce(values))
        if settings.env == "production" and "require_webauthn_for_admins" not in values:
            # WebAuthn for Secretariat administrators is on by default in production.
            settings = replace(settings, require_webauthn_for_admins=True)
        if "session_cookie_secure" not in values and settings.env == "production":
            settings = replace(settings, session_cookie_secure=True)
        if "trusted_proxy_hops" not in values and settings.env == "production":
            # Production runs behind exactly one reverse proxy (nginx or the ingress).
            settings = replace(settings, trusted_proxy_hops=1)
        return settings

    def resolved(self) -> Settings:
        """Fill the values that derive from others (database URL, secret in development)."""
        out = self
        if not out.database_url:
            path = Path(out.instance_path) / "cooperation.sqlite3"
            out = replace(out, database_url=f"sqlite:///{path}")
        if not out.secret_key and out.env != "production":
            out = replace(out, secret_key=_development_secret(Path(out.instance_path)))
        if not out.log_format:
            out = replace(out, log_format="json" if out.env == "production" else "text")
        return out

    # -- validation ---------------------------------------------------------------------------

    def problems(self) -> list[str]:
        """Every reason this configuration must not serve production traffic."""
        found: list[str] = []
        if self.env not in {"development", "production", "testing"}:
            found.append(f"COOPERATION_ENV={self.env!r} is not development, production or testing")
        found.extend(_operations_problems(self))
        if self.env != "production":
            return found
        if len(self.secret_key) < 32 or self.secret_key in _KNOWN_WEAK_SECRETS:
            found.append("SECRET_KEY must be a random value of at least 32 characters")
        if not self.database_url.startswith("postgresql"):
            # Empty (not yet resolved), SQLite or anything else: only PostgreSQL is supported.
            found.append("DATABASE_URL must point at PostgreSQL in production, not SQLite")
        if not self.session_cookie_secure:
            found.append("SESSION_COOKIE_SECURE must be true in production (HTTPS only)")
        if self.preferred_url_scheme != "https":
            found.append("PREFERRED_URL_SCHEME must be https in production")
        if not self.server_name:
            found.append("SERVER_NAME must be set in production (links in mails use it)")
        if self.mail_backend != "smtp":
            found.append("MAIL_BACKEND must be smtp in production, with MAIL_SERVER set")
        elif not self.mail_server:
            found.append("MAIL_SERVER must be set in production")
        if self.demo_mode:
            found.append("demo mode cannot run in production")
        if self.trusted_proxy_hops < 1:
            # Behind nginx every client would be 127.0.0.1: one attacker throttles everyone.
            found.append("TRUSTED_PROXY_HOPS must be 1 in production (the app runs behind a reverse proxy)")
        if self.log_format == "text":
            found.append("LOG_FORMAT must be json in production (one parseable line per event)")
        return found

    def validate(self) -> Settings:
        problems = self.problems()
        if problems:
            raise ConfigError("Refusing to start:\n  - " + "\n  - ".join(problems))
        return self


def _operations_problems(s: Settings) -> list[str]:
    """Settings of cooperation/ops, checked in every environment (a typo must not pass)."""
    import ipaddress

    from cooperation.ops.ratelimit import LimitError, parse_limit

    found: list[str] = []
    if s.log_format not in {"", "json", "text"}:
        found.append(f"LOG_FORMAT={s.log_format!r} is not json or text")
    if s.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        found.append(f"LOG_LEVEL={s.log_level!r} is not DEBUG, INFO, WARNING or ERROR")
    for network in s.metrics_allowed_networks:
        try:
            ipaddress.ip_network(network, strict=True)
        except ValueError:
            found.append(f"METRICS_ALLOWED_NETWORKS: {network!r} is not a network such as 10.0.0.0/8")
    for variable, value in (("RATE_LIMIT_INVITATIONS", s.rate_limit_invitations),
                            ("RATE_LIMIT_REAUTH", s.rate_limit_reauth),
                            ("RATE_LIMIT_EXPORTS", s.rate_limit_exports)):
        try:
            parse_limit(value)
        except LimitError as exc:
            found.append(f"{variable}: {exc}")
    if not 0 <= s.trusted_proxy_hops <= 3:
        found.append("TRUSTED_PROXY_HOPS must be between 0 and 3")
    if s.pg_bindir and not (Path(s.pg_bindir) / "pg_dump").exists():
        found.append(f"PG_BINDIR={s.pg_bindir!r} holds no pg_dump")
    return found


_KNOWN_WEAK_SECRETS = {"dev", "secret", "changeme", "change-me", "development", "test"}


def _coerce(values: dict[str, Any]) -> dict[str, Any]:
    types = {f.name: f.type for f in fields(Settings)}
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name not in types:
            raise ConfigError(f"unknown setting {name!r}")
        kind = types[name]
        if not isinstance(value, str):
            out[name] = tuple(value) if kind.startswith("tuple") else value
        elif kind == "bool":
            out[name] = _bool(value)
        elif kind == "int":
            try:
                out[name] = int(value)
            except ValueError as exc:
                raise ConfigError(f"setting {name!r} must be a whole number") from exc
        elif kind.startswith("tuple"):
            out[name] = _list(value)
        else:
            out[name] = value
    return out


def _read_config_file(path: Path) -> dict[str, Any]:
    """An optional JSON file of settings (keys are the dataclass field names)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"COOPERATION_CONFIG {path} cannot be read as JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"COOPERATION_CONFIG {path} must hold a JSON object")
    return data


def _development_secret(instance: Path) -> str:
    """A per-checkout random key, so development never runs on a known secret."""
    instance.mkdir(parents=True, exist_ok=True)
    key_file = instance / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(48), encoding="utf-8")
        key_file.chmod(0o600)
    return key_file.read_text(encoding="utf-8").strip()
