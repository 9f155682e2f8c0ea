"""Write the model folders of tests/engine/test_old_model_folders.py with mia's code from before
the encoder contract (commit 31abef3): run with that checkout's environment, e.g.
``/path/to/old/.venv/bin/python tests/engine/data/models_v0/make.py``. Each folder holds the
small network's config.json and weights.msgpack, and expected.npz: an input and the eval-mode
logits the old code computed for it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from flax import nnx

from mia_core.engine.checkpoint import ModelInfo, save_model
from mia_plugins.architectures.unet import UNetArchitecture
from mia_plugins.backbones.mobilenet import MobileNetV2Backbone
from mia_plugins.backbones.resnet import ResNetBackbone

HERE = Path(__file__).parent
BACKBONES = {
    "resnet18": ResNetBackbone("resnet18", (2, 2, 2, 2), width=0.0625),
    "mobilenetv2": MobileNetV2Backbone(width=0.25),
}
UNET = UNetArchitecture(decoder_channels=(16, 8, 8, 8, 8))

for name, backbone in BACKBONES.items():
    model = UNET.build(backbone, 1, 3, nnx.Rngs(7))
    # move BatchNorm statistics and scales off their initial values so the check sees them
    rng = np.random.default_rng(1)
    for _, module in nnx.iter_modules(model):
        if isinstance(module, nnx.BatchNorm):
            n = module.mean[...].shape[0]
            module.mean[...] = rng.normal(0, 0.1, n).astype(np.float32)
            module.var[...] = rng.uniform(0.5, 1.5, n).astype(np.float32)
            module.scale[...] = rng.uniform(0.5, 1.5, n).astype(np.float32)
    model.eval()
    x = rng.normal(size=(1, 64, 64, 1)).astype(np.float32)
    logits = np.asarray(model(x))
    folder = HERE / f"unet-{name}"
    info = ModelInfo("unet", name, 3, 1, ["background", "a", "b"], "per-image", 64)
    save_model(folder, model, info)
    np.savez(folder / "expected.npz", x=x, logits=logits)
    print(folder, logits.shape)
