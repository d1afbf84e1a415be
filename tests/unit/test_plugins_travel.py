"""The travel plugin follows the plugin contract: it stays in its namespace, brings its own Alembic
branch, is enabled by default, and -- switched off by the operator -- leaves no route (its
static files included), navigation item or permission behind. It also runs without the plugins
it uses when they are there (directory, non-cooperation)."""

from __future__ import annotations

import importlib

from flask import Flask

from cooperation import permissions as p
from cooperation.config import Settings
from cooperation.permissions import Role
from tests.conftest import AuthActions, CommittingClient

PREFIX = "/travel"


def _rules(app: Flask) -> list[str]:
    return [rule.rule for rule in app.url_map.iter_rules() if rule.rule.startswith(PREFIX)]


def test_travel_is_enabled_by_default():
    assert "travel" in Settings().enabled_plugins


def test_travel_stays_in_its_namespace():
    module = importlib.import_module("cooperation_travel")
    plugin = module.plugin
    assert plugin.name == "travel"
    assert {perm.name for perm in plugin.permissions()} == {
        "travel:reports:read", "travel:reports:send", "travel:reports:handle"}
    assert all(bp.name == "travel" for bp, _ in plugin.blueprints())
    models = importlib.import_module("cooperation_travel.models")
    tables = [m.__tablename__ for m in vars(models).values()
              if isinstance(m, type) and hasattr(m, "__tablename__") and m.__module__ == models.__name__]
    assert sorted(tables) == ["travel_recipient", "travel_report"]
    assert (plugin.migrations_dir / "versions" / "0001_travel_initial.py").is_file()


def test_the_secretariat_holds_no_travel_permission(app):
    assert not [perm for perm in p.permissions_for(Role.SECRETARIAT_ADMIN) if perm.startswith("travel:")]
    assert "travel:reports:handle" not in p.permissions_for(Role.STATE_FOCAL_POINT)
    assert "travel:reports:send" not in p.permissions_for(Role.COURT_MEMBER)


def test_switched_off_travel_leaves_no_route_nav_or_permission(make_app, users):
    enabled = make_app()
    disabled = make_app(enabled_plugins=("directory", "noncooperation", "agreements"))
    # The enabled application shows that each check below can fail.
    assert "/travel/new" in _rules(enabled) and "/travel/static/<path:filename>" in _rules(enabled)
    assert _rules(disabled) == []
    assert "travel.index" in [i.endpoint for i in enabled.extensions["cooperation.plugins"].nav]
    assert "travel.index" not in [i.endpoint for i in disabled.extensions["cooperation.plugins"].nav]
    with enabled.app_context():
        assert "travel:reports:send" in p.permissions_for(Role.STATE_MEMBER)
    with disabled.app_context():
        for role in Role:
            assert not [perm for perm in p.permissions_for(role) if perm.startswith("travel:")], role

    pages = {}
    for state, application in (("enabled", enabled), ("disabled", disabled)):
        application.test_client_class = CommittingClient
        client = application.test_client()
        AuthActions(client).login(users["member_nl"])
        pages[state] = client.get("/dashboard").get_data(as_text=True)
        script = client.get(f"{PREFIX}/static/page-new.js")
        script.close()  # a file response: release the file
        pages[f"{state}_status"] = (client.get(f"{PREFIX}/").status_code, client.get(f"{PREFIX}/new").status_code,
                                    script.status_code)
    assert f'href="{PREFIX}/"' in pages["enabled"] and "Travel reports" in pages["enabled"]
    assert f'href="{PREFIX}/"' not in pages["disabled"] and "Travel reports" not in pages["disabled"]
    assert pages["enabled_status"] == (200, 200, 200)
    assert pages["disabled_status"] == (404, 404, 404)


def test_travel_runs_alone(make_app, users):
    """Without the directory and non-cooperation plugins: the pages work, no import error."""
    alone = make_app(enabled_plugins=("travel",))
    alone.test_client_class = CommittingClient
    client = alone.test_client()
    AuthActions(client).login(users["member_nl"])
    assert client.get(f"{PREFIX}/new").status_code == 200
    assert client.get(f"{PREFIX}/").status_code == 200


def test_plugins_list_names_travel(make_app):
    output = make_app(enabled_plugins=("directory",)).test_cli_runner().invoke(args=["plugins", "list"]).output
    lines = {line.split()[0]: line for line in output.splitlines() if line.strip()}
    assert "installed, disabled" in lines["travel"]
