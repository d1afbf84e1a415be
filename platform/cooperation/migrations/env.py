"""Alembic environment: takes the engine and metadata from the Flask application."""

from __future__ import annotations

from alembic import context

from cooperation.extensions import db
from cooperation.migrations.alembic_config import include_object

config = context.config
app = config.attributes["flask_app"]

with app.app_context():
    engine = db.engine
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=db.metadata,
            render_as_batch=connection.dialect.name == "sqlite",  # ALTER TABLE on SQLite
            compare_type=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
