"""Alembic configured in code: one environment, core revisions plus one branch per plugin.

Never run at start-up: operators run `flask --app cooperation db upgrade` (or
`cooperation db upgrade`) after taking a backup.
"""

from __future__ import annotations

import os
from pathlib import Path

from alembic.config import Config
from flask import Flask

HERE = Path(__file__).resolve().parent


def alembic_config(app: Flask) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    locations = [str(HERE / "versions")]
    registry = app.extensions["cooperation.plugins"]
    for plugin in registry.plugins.values():
        versions = plugin.migrations_dir / "versions"
        if versions.is_dir():
            locations.append(str(versions))
    config.set_main_option("path_separator", "os")  # version_path_separator is deprecated
    config.set_main_option("version_locations", os.pathsep.join(locations))
    config.attributes["flask_app"] = app
    return config


# Full-text search indexes that migrations create by hand (SQLite FTS5 virtual tables and their
# shadow tables) are not SQLAlchemy models: autogenerate and the schema comparison skip them.
UNMANAGED_TABLE_PREFIX = "fts_"


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    return not (type_ == "table" and name is not None and name.startswith(UNMANAGED_TABLE_PREFIX))
