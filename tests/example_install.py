"""Install an example package from ``examples/`` with pip, as a user would, and run mia beside it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def install_example(name: str, root: Path) -> Path:
    """pip-install ``examples/<name>`` into ``root/site`` (built from a copy, so the repository stays clean)."""
    source = root / "src"
    shutil.copytree(EXAMPLES / name, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = root / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"pip could not build {EXAMPLES / name}:\n{proc.stdout}\n{proc.stderr}"
    return target


def run_with_site(args: list[str], site: Path, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    """Run the project's interpreter with ``site`` on PYTHONPATH and no plugin disabled."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("MIA_DISABLE_PLUGINS", None)
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=timeout)
