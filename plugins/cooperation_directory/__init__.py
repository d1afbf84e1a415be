"""Directory of national contact points (plugin)."""

from __future__ import annotations

from cooperation.plugins import Plugin


class DirectoryPlugin(Plugin):
    name = "directory"
    title = "Directory of national contact points"


plugin = DirectoryPlugin()
