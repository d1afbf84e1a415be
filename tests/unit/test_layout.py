"""platform/ is a source folder, not a package: it must never shadow the standard library."""

import importlib.util
import platform
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_platform_is_the_standard_library_module():
    stdlib = sysconfig.get_paths()["stdlib"]
    assert platform.__file__.startswith(stdlib), platform.__file__
    assert importlib.util.find_spec("platform").origin.startswith(stdlib)
    assert platform.system()


def test_platform_folder_has_no_init():
    assert not (REPO / "platform" / "__init__.py").exists()
    assert not (REPO / "plugins" / "__init__.py").exists()


def test_top_level_layout():
    # Untracked build output (egg-info, the instance folder) is not part of the layout.
    visible = {p.name for p in REPO.iterdir()
               if not p.name.startswith(".") and not p.name.endswith(".egg-info")} - {"instance"}
    assert visible == {"platform", "plugins", "static", "templates", "deploy", "tests", "pyproject.toml",
                       "README.md"}


def test_application_package_lives_in_platform():
    import cooperation

    assert Path(cooperation.__file__).parent == REPO / "platform" / "cooperation"
