"""The example architecture package, pip-installed like a user would, is listed by mia and
trained with ``mia train --arch lightseg`` with no change to mia."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from engine_helpers import write_blob_folder

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mia-example-architecture"


@pytest.fixture(scope="module")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("example_architecture")
    source = root / "src"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = root / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--no-index", "--target", str(target), str(source)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, f"pip could not build {EXAMPLE}:\n{proc.stdout}\n{proc.stderr}"
    return target


def _mia(args: list[str], site: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("MIA_DISABLE_PLUGINS", None)
    return subprocess.run([sys.executable, "-m", "mia_core.cli", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_installed_example_architecture_trains_with_mia_train(example_site: Path, tmp_path: Path) -> None:
    listed = _mia(["plugins", "--json"], example_site)
    assert listed.returncode == 0, listed.stderr
    records = {r["name"]: r for r in json.loads(listed.stdout)}
    assert records["lightseg"]["components"] == {"architectures": ["lightseg"]}
    assert records["lightseg"]["status"] == "loaded"

    write_blob_folder(tmp_path / "img", 2, size=(64, 64))
    out = tmp_path / "model"
    proc = _mia(["train", str(tmp_path / "img"), "--out", str(out), "--arch", "lightseg", "--backbone", "plain",
                 "--epochs", "1", "--steps", "2", "--batch", "2", "--patch", "64", "--quiet"], example_site)
    assert proc.returncode == 0, proc.stderr
    info = json.loads((out / "config.json").read_text())
    assert (info["architecture"], info["backbone"]) == ("lightseg", "plain")
    assert (out / "weights.msgpack").stat().st_size > 0
    # and its own parameters were saved, not only the encoder's
    from flax import serialization

    weights = serialization.msgpack_restore((out / "weights.msgpack").read_bytes())
    assert {"encoder", "lateral", "fuse", "head"} <= set(weights)
