"""Static checks that catch real bugs in code no test happens to run: an undefined name (a
missing import on an error path, say) or an import left unused. ruff's pyflakes rules (F) and
syntax errors (E9) over everything in the repository that is Python."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_undefined_names_or_unused_imports() -> None:
    ruff = Path(sys.executable).with_name("ruff")
    result = subprocess.run([str(ruff), "check", "--no-cache", "--select", "F,E9", "--output-format", "concise",
                             "platform", "plugins", "tests", "deploy"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
