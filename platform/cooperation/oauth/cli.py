"""`flask oauth register-cli-client`: register the public client of the Python client."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from cooperation.audit.service import Actor
from cooperation.extensions import db
from cooperation.oauth import services

oauth_cli = AppGroup("oauth", help="OAuth clients for the API.")


@oauth_cli.command("register-cli-client")
def register_cli_client() -> None:
    """Create or refresh the 'cooperation-cli' public client (idempotent)."""
    client = services.ensure_cli_client(db.session, Actor.system("cli"))
    db.session.commit()
    click.echo(f"OAuth client {client.client_id!r} ready (scopes: {client.allowed_scope}).")
