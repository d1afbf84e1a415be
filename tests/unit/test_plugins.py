"""The plugin contract: start-up stops on an unknown or broken plugin, a plugin stays inside its
namespace (permissions, tables, blueprints), and a disabled plugin leaves no trace."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

import pytest
from flask import Blueprint, Flask
from flask_babel import lazy_gettext as _l

from cooperation import create_app
from cooperation import permissions as p
from cooperation.config import Settings
from cooperation.extensions import db
from cooperation.permissions import Permission, Role
from cooperation.plugins import NavItem, Plugin, PluginError
from tests.conftest import AuthActions, CommittingClient

GOOD_READ = Permission("good:things:read", "Read things")


def settings_for(tmp_path: Path, *enabled: str) -> Settings:
    return Settings(env="testing", secret_key="plugin-test-secret-" + "x" * 40,
                    database_url=f"sqlite:///{tmp_path / 'plugins.sqlite3'}",
                    instance_path=str(tmp_path / "instance"), enabled_plugins=enabled)


def make_plugin(plugin_name: str = "good", *, perms: Iterable[Permission] = (GOOD_READ,),
                grants: Mapping[Permission, Iterable[Role]] | None = None,
                blueprint_name: str | None = None, models: str | None = None) -> Callable[[], Plugin]:
    """An entry-point loader that builds a small plugin (a fresh blueprint per application)."""

    def load() -> Plugin:
        class FakePlugin(Plugin):
            name = plugin_name
            title = "A test plugin"
            models_module = models

            def blueprints(self) -> Iterable[tuple[Blueprint, str]]:
                bp = Blueprint(blueprint_name or plugin_name, __name__)

                @bp.get("/")
                @p.require(GOOD_READ)
                def index() -> str:
                    return "things"

                return ((bp, f"/{plugin_name}"),)

            def nav_items(self) -> Iterable[NavItem]:
                return (NavItem(label=lambda: str(_l("Things")), endpoint=f"{blueprint_name or plugin_name}.index",
                                permission=GOOD_READ),)

            def permissions(self) -> Iterable[Permission]:
                return perms

            def grants(self) -> Mapping[Permission, Iterable[Role]]:
                return {GOOD_READ: (Role.STATE_MEMBER,)} if grants is None else grants

        return FakePlugin()

    return load


# -- start-up refuses what it cannot trust ---------------------------------------------------------

def test_a_well_behaved_plugin_is_registered(tmp_path):
    app = create_app(settings_for(tmp_path, "good"), available_plugins={"good": make_plugin()})
    assert "/good/" in {rule.rule for rule in app.url_map.iter_rules()}
    registry = app.extensions["cooperation.plugins"]
    assert list(registry.plugins) == ["good"] and [i.endpoint for i in registry.nav] == ["good.index"]
    with app.app_context():
        assert GOOD_READ.name in p.permissions_for(Role.STATE_MEMBER)
        assert GOOD_READ.name not in p.permissions_for(Role.COURT_MEMBER)


def test_unknown_enabled_plugin_stops_startup(tmp_path):
    with pytest.raises(PluginError, match="'nosuch' is enabled but not installed"):
        create_app(settings_for(tmp_path, "nosuch"), available_plugins={"good": make_plugin()})


def test_plugin_that_fails_to_load_stops_startup(tmp_path):
    def broken() -> Plugin:
        raise ImportError("No module named 'missing_dependency'")

    with pytest.raises(PluginError, match="'broken' failed to load: No module named 'missing_dependency'"):
        create_app(settings_for(tmp_path, "broken"), available_plugins={"broken": broken})


def test_entry_point_giving_another_name_is_refused(tmp_path):
    with pytest.raises(PluginError, match="does not give a Plugin named 'alias'"):
        create_app(settings_for(tmp_path, "alias"), available_plugins={"alias": make_plugin("good")})


def test_foreign_permission_is_refused(tmp_path):
    stolen = Permission("core:audit:read", "Read the audit log")
    with pytest.raises(PluginError, match="foreign permission 'core:audit:read'"):
        create_app(settings_for(tmp_path, "good"), available_plugins={
            "good": make_plugin(perms=(GOOD_READ, stolen), grants={})})


def test_granting_an_undeclared_permission_is_refused(tmp_path):
    with pytest.raises(PluginError, match="grants undeclared permission"):
        create_app(settings_for(tmp_path, "good"), available_plugins={
            "good": make_plugin(perms=(), grants={p.AUDIT_READ: (Role.STATE_MEMBER,)})})


def test_blueprint_outside_its_namespace_is_refused(tmp_path):
    with pytest.raises(PluginError, match="blueprint 'auth_extra' outside its namespace"):
        create_app(settings_for(tmp_path, "good"), available_plugins={
            "good": make_plugin(blueprint_name="auth_extra")})


@pytest.fixture
def rogue_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A models module that defines a table without its plugin's prefix; removed afterwards so
    that the shared metadata (and the other tests' schema) stay as they were."""
    module = "rogue_plugin_models"
    (tmp_path / f"{module}.py").write_text(
        "from sqlalchemy import Column, Integer, Table\n"
        "from cooperation.extensions import db\n"
        "Table('stolen_things', db.metadata, Column('id', Integer, primary_key=True))\n",
        encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        yield module
    finally:
        sys.modules.pop(module, None)
        if "stolen_things" in db.metadata.tables:
            db.metadata.remove(db.metadata.tables["stolen_things"])


def test_table_without_the_plugin_prefix_is_refused(tmp_path, rogue_models):
    with pytest.raises(PluginError, match=r"tables \['stolen_things'\] lack its prefix"):
        create_app(settings_for(tmp_path, "good"), available_plugins={"good": make_plugin(models=rogue_models)})


def test_directory_plugin_stays_in_its_namespace():
    from cooperation_directory import plugin
    from cooperation_directory.models import ContactPoint

    assert all(perm.name.startswith("directory:") for perm in plugin.permissions())
    assert all(bp.name == "directory" or bp.name.startswith("directory_") for bp, _ in plugin.blueprints())
    assert ContactPoint.__tablename__.startswith("directory_")
    assert (plugin.migrations_dir / "versions" / "0001_directory_initial.py").is_file()


# -- a disabled plugin leaves no trace ------------------------------------------------------------

def _directory_rules(app: Flask) -> list[str]:
    return [rule.rule for rule in app.url_map.iter_rules() if rule.rule.startswith("/directory")]


def test_disabled_directory_plugin_leaves_no_route_permission_or_nav(make_app, users):
    enabled = make_app()
    disabled = make_app(enabled_plugins=())
    # The enabled application shows that each check below can fail.
    assert _directory_rules(enabled)
    assert _directory_rules(disabled) == []
    assert "directory.index" in [i.endpoint for i in enabled.extensions["cooperation.plugins"].nav]
    assert disabled.extensions["cooperation.plugins"].nav == []
    with enabled.app_context():
        assert "directory:contacts:read" in p.permissions_for(Role.STATE_MEMBER)
    with disabled.app_context():
        for role in Role:
            assert not [name for name in p.permissions_for(role) if name.startswith("directory:")], role

    user = users["member_nl"]
    pages = {}
    for name, application in (("enabled", enabled), ("disabled", disabled)):
        # Commits the test's session around requests, so each login reads the last used code.
        application.test_client_class = CommittingClient
        client = application.test_client()
        AuthActions(client).login(user)
        pages[name] = client.get("/dashboard").get_data(as_text=True)
        pages[name + "_directory"] = client.get("/directory/").status_code
    assert 'href="/directory/"' in pages["enabled"] and "Contact points" in pages["enabled"]
    assert 'href="/directory/"' not in pages["disabled"] and "Contact points" not in pages["disabled"]
    assert (pages["enabled_directory"], pages["disabled_directory"]) == (200, 404)


def test_plugins_list_shows_directory_installed_but_disabled(make_app):
    enabled = make_app().test_cli_runner().invoke(args=["plugins", "list"])
    disabled = make_app(enabled_plugins=()).test_cli_runner().invoke(args=["plugins", "list"])
    assert enabled.exit_code == disabled.exit_code == 0
    [enabled_line] = [line for line in enabled.output.splitlines() if line.startswith("directory")]
    [disabled_line] = [line for line in disabled.output.splitlines() if line.startswith("directory")]
    assert enabled_line.split()[1] == "enabled" and "Directory of national contact points" in enabled_line
    assert "installed, disabled" in disabled_line
