"""Error pages that leak nothing: no stack trace, no SQL, no setting (ASVS 16.5.1)."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

MESSAGES = {
    400: _l("The request could not be understood."),
    403: _l("You do not have access to this page."),
    404: _l("This page does not exist, or you do not have access to it."),
    405: _l("This action is not allowed here."),
    413: _l("The upload is larger than allowed."),
    429: _l("Too many attempts. Please wait before trying again."),
    500: _l("Something went wrong on our side. Nothing was saved. Please try again."),
    503: _l("The service is temporarily unavailable. Please try again shortly."),
}


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def render_error(code: int, message: str | None = None):  # type: ignore[no-untyped-def]
    text = str(message or MESSAGES.get(code, MESSAGES[500]))
    if _wants_json():
        return jsonify(error=text, status=code), code
    return render_template("errors/error.html", code=code, message=text), code


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):  # type: ignore[no-untyped-def]
        return render_error(400, str(_l("Your form expired or was sent from another page. "
                                         "Please reload the page and try again.")))

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):  # type: ignore[no-untyped-def]
        code = error.code or 500
        response = render_error(code if code in MESSAGES else 400 if code < 500 else 500)
        if code == 405 and error.get_response().headers.get("Allow"):
            return response[0], 405, {"Allow": error.get_response().headers["Allow"]}
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception):  # type: ignore[no-untyped-def]
        # Last-resort handler (ASVS 16.5.4): log the exception server-side only.
        from cooperation.extensions import db

        db.session.rollback()
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return render_error(InternalServerError.code)
