"""``mia models``: the architecture x backbone matrix, with refusals and their reasons."""

from __future__ import annotations

import pytest

from engine_helpers import SMALL_ARCH, SMALL_BACKBONE, small_registry
from mia_core.cli import main


@pytest.fixture(autouse=True)
def _small_components(monkeypatch):
    import mia_core.plugins

    monkeypatch.setattr(mia_core.plugins, "load_plugins", lambda disabled=None: small_registry(disabled or ()))


def test_matrix_marks_pairs_ok_or_refused_with_the_reason(capsys):
    code = main(["models", "--arch", "deeplabv3plus", "--arch", SMALL_ARCH,
                 "--backbone", "vgg16", "--backbone", SMALL_BACKBONE])
    out = capsys.readouterr().out
    assert code == 0, out
    lines = out.splitlines()
    header = lines[0].split()
    assert header == ["vgg16", SMALL_BACKBONE]
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:3]}
    assert rows == {"deeplabv3plus": ["no", "ok"], SMALL_ARCH: ["ok", "ok"]}
    assert "deeplabv3plus + vgg16: architecture 'deeplabv3plus' cannot use backbone 'vgg16'" in out
    assert "cannot dilate" in out
    assert f"{SMALL_ARCH} + " not in out.split("refused:")[1]


def test_unknown_names_and_bad_size_are_refused(capsys):
    assert main(["models", "--backbone", "resnet99"]) == 2
    err = capsys.readouterr().err
    assert "unknown backbone resnet99; available: " in err and SMALL_BACKBONE in err
    assert main(["models", "--size", "48"]) == 2
    assert "--size must be a positive multiple of 32, got 48" in capsys.readouterr().err
