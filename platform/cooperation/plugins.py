"""The plugin contract. Core features and plugins register the same kinds of things.

A plugin is declared by an entry point in the group `cooperation.plugins` and enabled by the
operator's allow-list (setting `enabled_plugins`). An unknown name or a plugin that fails to
load stops start-up (indico's approach), rather than the platform running half-configured.
A plugin may only create tables prefixed with its name, blueprints named after it and
permissions in its own scope `<name>:...`; it brings its own Alembic branch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import ClassVar

from flask import Blueprint, Flask
from sqlalchemy.orm import Session

from cooperation.extensions import db
from cooperation.permissions import Permission, Role

ENTRY_POINT_GROUP = "cooperation.plugins"


class PluginError(RuntimeError):
    """A plugin is unknown, broken, or steps outside its namespace."""


@dataclass(frozen=True)
class NavItem:
    """A navigation entry, shown only to users holding `permission`."""

    label: Callable[[], str]  # lazy: translated at render time
    endpoint: str
    permission: Permission | None
    order: int = 100


class Plugin:
    """Subclass in plugins/cooperation_<name>/__init__.py and expose an instance as `plugin`."""

    name: ClassVar[str]  # short id: table prefix, permission scope, Alembic branch label
    title: ClassVar[str]
    description: ClassVar[str] = ""
    models_module: ClassVar[str | None] = None

    def blueprints(self) -> Iterable[tuple[Blueprint, str]]:
        return ()

    def nav_items(self) -> Iterable[NavItem]:
        return ()

    def permissions(self) -> Iterable[Permission]:
        return ()

    def grants(self) -> Mapping[Permission, Iterable[Role]]:
        """Which roles receive which of this plugin's permissions."""
        return {}

    def init_app(self, app: Flask) -> None:
        """Optional hook (CLI commands, signal receivers)."""

    def seed_demo(self, session: Session, echo: Callable[[str], None]) -> None:
        """Optional hook: add the plugin's demo data (`seed-demo`, refused in production).
        Called after the core demo data (States, demo accounts); must be idempotent and must
        not commit (seed-demo commits once at the end)."""

    @property
    def migrations_dir(self) -> Path:
        module_file = importlib.import_module(type(self).__module__).__file__
        if module_file is None:
            raise PluginError(f"plugin {self.name!r} has no module file")
        return Path(module_file).parent / "migrations"


@dataclass
class PluginRegistry:
    plugins: dict[str, Plugin] = field(default_factory=dict)
    permissions: dict[str, Permission] = field(default_factory=dict)
    grants: dict[str, frozenset[Role]] = field(default_factory=dict)
    nav: list[NavItem] = field(default_factory=list)


def discover() -> dict[str, Callable[[], Plugin]]:
    """Installed plugins by name; loading is deferred until one is enabled."""
    return {ep.name: ep.load for ep in entry_points(group=ENTRY_POINT_GROUP)}


def load_enabled(names: Iterable[str], available: Mapping[str, Callable[[], Plugin]] | None = None
                 ) -> list[Plugin]:
    available = discover() if available is None else available
    loaded = []
    for name in names:
        if name not in available:
            raise PluginError(f"plugin {name!r} is enabled but not installed "
                              f"(installed: {', '.join(sorted(available)) or 'none'})")
        try:
            plugin = available[name]()
        except Exception as exc:  # any import-time failure stops start-up, with its cause
            raise PluginError(f"plugin {name!r} failed to load: {exc}") from exc
        if not isinstance(plugin, Plugin) or plugin.name != name:
            raise PluginError(f"entry point {name!r} does not give a Plugin named {name!r}")
        loaded.append(plugin)
    return loaded


def import_models(plugin: Plugin) -> None:
    """Import a plugin's models and check that its tables carry its prefix."""
    if not plugin.models_module:
        return
    before = set(db.metadata.tables)
    importlib.import_module(plugin.models_module)
    owned = {t for t in db.metadata.tables if t.startswith(f"{plugin.name}_")}
    foreign = (set(db.metadata.tables) - before) - owned
    if foreign:
        raise PluginError(f"plugin {plugin.name!r}: tables {sorted(foreign)} lack its prefix")


def register(app: Flask, plugins: Iterable[Plugin]) -> PluginRegistry:
    registry = PluginRegistry()
    for plugin in plugins:
        import_models(plugin)
        for perm in plugin.permissions():
            if not perm.name.startswith(f"{plugin.name}:"):
                raise PluginError(f"plugin {plugin.name!r} declared foreign permission {perm.name!r}")
            registry.permissions[perm.name] = perm
        for perm, roles in plugin.grants().items():
            if perm.name not in registry.permissions:
                raise PluginError(f"plugin {plugin.name!r} grants undeclared permission {perm.name!r}")
            registry.grants[perm.name] = frozenset(Role(r) for r in roles)
        for bp, url_prefix in plugin.blueprints():
            if bp.name != plugin.name and not bp.name.startswith(f"{plugin.name}_"):
                raise PluginError(f"plugin {plugin.name!r}: blueprint {bp.name!r} outside its namespace")
            app.register_blueprint(bp, url_prefix=url_prefix)
        registry.nav.extend(plugin.nav_items())
        plugin.init_app(app)
        registry.plugins[plugin.name] = plugin
    app.extensions["cooperation.plugins"] = registry
    return registry
