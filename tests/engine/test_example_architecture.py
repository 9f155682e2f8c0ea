"""The example architecture package, pip-installed like a user would, is listed by mia and
trained with ``mia train --arch lightseg`` with no change to mia."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from engine_helpers import write_blob_folder
from example_install import install_example, run_with_site



@pytest.fixture(scope="module")
def example_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_example("mia-example-architecture", tmp_path_factory.mktemp("example_architecture"))


def _mia(args: list[str], site: Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    return run_with_site(["-m", "mia_core.cli", *args], site, timeout)


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
