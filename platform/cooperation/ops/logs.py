"""Structured logs: one JSON object per line on stdout, and one line per request.

Every request gets an id: the X-Request-ID set by nginx ($request_id) when it is well formed,
otherwise a new one. It is echoed in the response and carried by every log line written
while the request runs, so one id links the proxy's log, the app's lines and the user's report.

What a request line holds: UTC time, level, request id, method, path WITHOUT the query string,
status, duration, user id, client address. Never: passwords, tokens, cookies, query strings,
form data or headers (ASVS 16.2.5). JSON encoding also neutralises CR/LF and escapes that a
user could put in a path to forge lines (ASVS 16.4.1).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
# nginx's $request_id is 32 hex digits; accept the usual UUID/ULID forms, nothing else.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,128}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Paths that carry a secret (an invitation token; a session's id hash): logged as the route.
_SECRET_IN_PATH = (
    (re.compile(r"^/invitations/[^/]+"), "/invitations/<token>"),
    (re.compile(r"^/account/sessions/[^/]+/"), "/account/sessions/<id_hash>/"),
)
request_logger = logging.getLogger("cooperation.request")


def redact_path(path: str) -> str:
    """The path as it may be logged: the query string is never passed in; secrets replaced."""
    for pattern, replacement in _SECRET_IN_PATH:
        path = pattern.sub(replacement, path, count=1)
    return path[:512]


def request_id() -> str:
    return getattr(g, "request_id", "") if has_request_context() else ""


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", "") or request_id()
        if rid:
            entry["request_id"] = rid
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """For a developer's terminal; control characters are shown escaped, never interpreted."""

    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None)
        line = record.getMessage()
        if isinstance(fields, dict):
            line += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        rid = request_id()
        stamp = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        text = f"{stamp}Z {record.levelname} {record.name} {f'[{rid}] ' if rid else ''}{line}"
        text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stdout is at the time (test runners and servers swap it)."""

    @property  # type: ignore[override]
    def stream(self):  # type: ignore[no-untyped-def]
        return sys.stdout

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def configure(log_format: str, level: str) -> None:
    """Route the root logger (and with it Flask's, SQLAlchemy's, gunicorn's error log) to
    stdout in the chosen format. Idempotent: several apps in one process share one handler."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, "_cooperation", False)), None)
    if handler is None:
        handler = _StdoutHandler()
        handler._cooperation = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root.setLevel(level.upper())
    # Flask's app.logger has its own stderr handler only when none is configured: keep one path.
    logging.getLogger("cooperation").handlers.clear()
    logging.getLogger("cooperation").propagate = True


def init_app(app: Flask) -> None:
    """Register first, so that every request (even one refused by a later hook) gets an id,
    a duration and its line."""
    settings = app.config["COOPERATION_SETTINGS"]
    configure(settings.log_format, settings.log_level)
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_finish)


def _start() -> None:
    g.request_started = time.perf_counter()
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex


def _user_id() -> int | None:
    # Noted by the user loader: reading it from the User row would reload the row after the
    # view's commit expired it (a query, and on SQLite a write lock, for a log line).
    return g.get("log_user_id")


def _finish(response: Response) -> Response:
    rid = g.get("request_id") or uuid.uuid4().hex
    response.headers[REQUEST_ID_HEADER] = rid
    duration = time.perf_counter() - g.get("request_started", time.perf_counter())
    from cooperation.ops import metrics

    metrics.observe_request(request.endpoint or "<unmatched>", request.method, response.status_code,
                            duration)
    request_logger.info("request", extra={"request_id": rid, "fields": {
        "method": request.method,
        "path": redact_path(request.path),  # never the query string (tokens, search terms)
        "status": response.status_code,
        "duration_ms": round(duration * 1000, 2),
        "user_id": _user_id(),
        "client": request.remote_addr or "",
    }})
    return response
