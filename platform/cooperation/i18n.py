"""Locale selection: the user's choice, then the browser's, among the Court's working languages."""

from __future__ import annotations

from flask import current_app, request, session
from flask_login import current_user

LANGUAGES = {"en": "English", "fr": "Français"}


def select_locale() -> str:
    if getattr(current_user, "is_authenticated", False) and current_user.locale in LANGUAGES:
        return str(current_user.locale)
    chosen = session.get("locale")
    if chosen in LANGUAGES:
        return str(chosen)
    return request.accept_languages.best_match(
        list(LANGUAGES), default=current_app.config.get("BABEL_DEFAULT_LOCALE", "en")
    ) or "en"


def current_locale() -> str:
    """The locale of the current request ("en" outside one)."""
    from flask_babel import get_locale

    return str(get_locale() or "en")
