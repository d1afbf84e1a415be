"""The non-cooperation and agreements plugins follow the plugin contract: they stay in their
namespace, bring their own Alembic branch, and -- switched off by the operator -- leave no route,
navigation item, permission or command behind. Each can be switched off alone."""

from __future__ import annotations

import pytest
from flask import Flask

from cooperation import permissions as p
from cooperation.config import Settings
from cooperation.permissions import Role
from tests.conftest import AuthActions, CommittingClient

PLUGINS = {
    "noncooperation": ("/noncooperation", "noncooperation.index", "Non-cooperation"),
    "agreements": ("/agreements", "agreements.index", "Cooperation agreements"),
}


def _rules(app: Flask, prefix: str) -> list[str]:
    return [rule.rule for rule in app.url_map.iter_rules() if rule.rule.startswith(prefix)]


def test_both_plugins_are_enabled_by_default():
    assert {"noncooperation", "agreements"} <= set(Settings().enabled_plugins)


@pytest.mark.parametrize("name", list(PLUGINS))
def test_plugin_stays_in_its_namespace(name):
    import importlib

    module = importlib.import_module(f"cooperation_{name}")
    plugin = module.plugin
    assert plugin.name == name
    assert all(perm.name.startswith(f"{name}:") for perm in plugin.permissions())
    assert all(bp.name == name or bp.name.startswith(f"{name}_") for bp, _ in plugin.blueprints())
    models = importlib.import_module(f"cooperation_{name}.models")
    tables = [m.__tablename__ for m in vars(models).values()
              if isinstance(m, type) and hasattr(m, "__tablename__") and m.__module__ == models.__name__]
    assert tables and all(t.startswith(f"{name}_") for t in tables)
    assert (plugin.migrations_dir / "versions" / f"0001_{name}_initial.py").is_file()


@pytest.mark.parametrize("name", list(PLUGINS))
def test_switched_off_plugin_leaves_no_route_nav_permission_or_command(make_app, users, name):
    prefix, endpoint, label = PLUGINS[name]
    others = tuple(n for n in ("directory", *PLUGINS) if n != name)
    enabled = make_app()
    disabled = make_app(enabled_plugins=others)
    # The enabled application shows that each check below can fail.
    assert _rules(enabled, prefix) and _rules(disabled, prefix) == []
    assert endpoint in [i.endpoint for i in enabled.extensions["cooperation.plugins"].nav]
    assert endpoint not in [i.endpoint for i in disabled.extensions["cooperation.plugins"].nav]
    with enabled.app_context():
        assert any(perm.startswith(f"{name}:") for perm in p.permissions_for(Role.STATE_MEMBER))
    with disabled.app_context():
        for role in Role:
            assert not [perm for perm in p.permissions_for(role) if perm.startswith(f"{name}:")], role
    if name == "noncooperation":  # the reminder command comes and goes with the plugin
        assert "noncooperation" in enabled.test_cli_runner().invoke(args=["--help"]).output
        assert "noncooperation" not in disabled.test_cli_runner().invoke(args=["--help"]).output

    user = users["admin"]
    pages = {}
    for state, application in (("enabled", enabled), ("disabled", disabled)):
        application.test_client_class = CommittingClient
        client = application.test_client()
        AuthActions(client).login(user)
        pages[state] = client.get("/dashboard").get_data(as_text=True)
        pages[f"{state}_status"] = client.get(f"{prefix}/").status_code
        pages[f"{state}_export"] = client.get(f"{prefix}/export.csv").status_code
    assert f'href="{prefix}/"' in pages["enabled"] and label in pages["enabled"]
    assert f'href="{prefix}/"' not in pages["disabled"] and label not in pages["disabled"]
    assert (pages["enabled_status"], pages["disabled_status"]) == (200, 404)
    assert (pages["enabled_export"], pages["disabled_export"]) == (200, 404)


def test_plugins_list_names_both(make_app):
    output = make_app(enabled_plugins=("directory",)).test_cli_runner().invoke(args=["plugins", "list"]).output
    lines = {line.split()[0]: line for line in output.splitlines() if line.strip()}
    assert "installed, disabled" in lines["noncooperation"] and "installed, disabled" in lines["agreements"]
