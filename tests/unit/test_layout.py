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
    """What the repository holds at its top (git-ignored output such as .venv, instance/,
    egg-info or test-artifacts/ is not part of the layout)."""
    import subprocess

    listed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True)
    visible = {line.split("/", 1)[0] for line in listed.stdout.splitlines() if not line.startswith(".")}
    assert visible == {"platform", "plugins", "static", "templates", "deploy", "tests", "pyproject.toml",
                       "README.md"}


def test_application_package_lives_in_platform():
    import cooperation

    assert Path(cooperation.__file__).parent == REPO / "platform" / "cooperation"
