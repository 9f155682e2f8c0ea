"""Model folders saved before the encoder contract (tests/engine/data/models_v0, written by that
version's code with make.py there) still load and predict the same logits, and a folder that no
longer fits is refused with the reason and what to do."""

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
def test_folder_saved_before_the_contract_loads_and_predicts_the_same(name):
    folder = DATA / f"unet-{name}"
    model, info = load_model(folder, builder=_builder(BACKBONES))
    assert (info.architecture, info.backbone, info.num_classes) == ("unet", name, 3)
    expected = np.load(folder / "expected.npz")
    np.testing.assert_allclose(np.asarray(model(expected["x"])), expected["logits"], rtol=1e-4, atol=1e-4)


def test_folder_that_no_longer_fits_is_refused_with_reason_and_remedy():
    wider = {"resnet18": ResNetBackbone("resnet18", (2, 2, 2, 2), width=0.125)}
    with pytest.raises(ModelLoadError, match=r"does not fit this network.*shape differs.*train the model again"):
        load_model(DATA / "unet-resnet18", builder=_builder(wider))
