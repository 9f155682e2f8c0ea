"""Model folders saved before the encoder contract (tests/engine/data/models_v0, written by that
version's code with make.py there) are refused with the reason and what to do: the built-in encoders
now pad as PyTorch does, so their weights would predict shifted results; a folder whose weights no
longer fit is refused the same way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from flax import nnx

from mia_core.engine.checkpoint import ModelLoadError, load_model
from mia_plugins.architectures.unet import UNetArchitecture
from mia_plugins.backbones.mobilenet import MobileNetV2Backbone
from mia_plugins.backbones.resnet import ResNetBackbone

DATA = Path(__file__).parent / "data" / "models_v0"
# the small networks make.py saved (registry names, widths of that version's test networks)
BACKBONES = {
    "resnet18": ResNetBackbone("resnet18", (2, 2, 2, 2), width=0.0625),
    "mobilenetv2": MobileNetV2Backbone(width=0.25),
}
UNET = UNetArchitecture(decoder_channels=(16, 8, 8, 8, 8))


def _builder(backbones):
    def build(info):
        return UNET.build(backbones[info.backbone], info.in_channels, info.num_classes, nnx.Rngs(0))

    return build


@pytest.mark.parametrize("name", sorted(BACKBONES))
def test_folder_of_the_earlier_format_is_refused_with_reason_and_remedy(name):
    """Their encoders padded stride-2 layers differently: loading them would predict shifted results."""
    folder = DATA / f"unet-{name}"
    with pytest.raises(ModelLoadError, match=r"mia 0\.1.*padded.*Train the model again"):
        load_model(folder, builder=_builder(BACKBONES))


def _lifted(tmp_path: Path, name: str) -> Path:
    """A copy of an earlier-format folder marked as today's format (to reach the checks behind it)."""
    import json
    import shutil

    folder = tmp_path / f"unet-{name}"
    shutil.copytree(DATA / f"unet-{name}", folder)
    config = json.loads((folder / "config.json").read_text())
    config["version"] = 2
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_folder_of_the_earlier_format_holds_weights_that_would_predict_differently(tmp_path):
    """Why the refusal: with the version mark lifted, the same weights give other logits today."""
    folder = _lifted(tmp_path, "mobilenetv2")
    model, _ = load_model(folder, builder=_builder(BACKBONES))
    expected = np.load(folder / "expected.npz")
    assert not np.allclose(np.asarray(model(expected["x"])), expected["logits"], rtol=1e-3, atol=1e-3)


def test_folder_that_no_longer_fits_is_refused_with_reason_and_remedy(tmp_path):
    wider = {"resnet18": ResNetBackbone("resnet18", (2, 2, 2, 2), width=0.125)}
    with pytest.raises(ModelLoadError, match=r"does not fit this network.*shape differs.*train the model again"):
        load_model(_lifted(tmp_path, "resnet18"), builder=_builder(wider))
