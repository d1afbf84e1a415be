"""Unbound extensions, bound to an application in create_app()."""

from flask_babel import Babel
from flask_login import LoginManager
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from flask import has_request_context, request

from cooperation.db import Base


def _session_scope() -> int:
    """One database session per request, even when a test keeps an application context open
    around several requests (Flask reuses it); outside requests, one per application context."""
    if has_request_context():
        return id(request._get_current_object())  # type: ignore[attr-defined]
    from flask.globals import app_ctx

    return id(app_ctx._get_current_object())  # type: ignore[attr-defined]


db = SQLAlchemy(model_class=Base, session_options={"scopefunc": _session_scope})
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
