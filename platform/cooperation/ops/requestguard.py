"""Refuse input that no field can hold: NUL characters (found by the wapiti scan in tests/ops).

PostgreSQL text cannot contain NUL (0x00), so a %00 in a search box or a form field reached the
database as an error and the user got a 500. A NUL has no legitimate use in this platform's
text, so such a request is a 400 before any view runs, on every backend alike.

Checked: the path, the query string, url-encoded forms and JSON bodies. Multipart bodies (file
uploads) are not parsed here: that would happen before the upload view raises its size limit;
their text fields go through the same forms, validated by the views.
"""

from __future__ import annotations

from typing import Any

from flask import Response, make_response, request

NUL = "\x00"


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def refuse_nul() -> Response | None:
    """before_request (registered first after the request id, before any database work)."""
    suspicious = NUL in request.path or any(_has_nul(v) for v in request.args.values())
    if not suspicious and request.mimetype == "application/x-www-form-urlencoded":
        suspicious = any(_has_nul(k) or _has_nul(v) for k, v in request.form.items(multi=True))
    if not suspicious and request.is_json:
        suspicious = _has_nul(request.get_json(silent=True))
    if not suspicious:
        return None
    from cooperation.errors import render_error

    return make_response(render_error(400))
