"""Alembic configured in code: one environment, core revisions plus one branch per plugin.

Never run at start-up: operators run `flask --app cooperation db upgrade` (or
`cooperation db upgrade`) after taking a backup.
"""

from __future__ import annotations

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
    # os.pathsep-separated, as Alembic expects (paths contain no spaces problem this way)
    config.set_main_option("version_path_separator", "os")
    config.set_main_option("version_locations", __import__("os").pathsep.join(locations))
    config.attributes["flask_app"] = app
    return config
