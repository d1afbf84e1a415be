"""OAuth 2.0 for the API: the device authorization flow (RFC 8628) for the Python client,
scoped, expiring, revocable bearer tokens, and their use on /api/ requests."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from cooperation.oauth import bearer, server
    from cooperation.oauth.cli import oauth_cli
    from cooperation.oauth.views import bp

    server.init_app(app)
    bearer.init_app(app)
    app.register_blueprint(bp)
    app.cli.add_command(oauth_cli)
