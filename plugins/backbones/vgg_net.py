"""The VGG-16 network of :mod:`mia_plugins.backbones.vgg` (imported when a model is built)."""

from __future__ import annotations

import jax
from flax import nnx

from mia_core.engine.geometry import scale_channels
from mia_core.engine.layers import ConvBNAct, max_pool

BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


class VGG(nnx.Module):
    """Five conv blocks separated by 2x2 max-pools; returns ``{stride: feature map}``."""

    def __init__(self, in_channels: int, width: float, *, rngs: nnx.Rngs) -> None:
        cin = in_channels
        blocks = []
        for spec in BLOCKS:
            layers = []
            for channels in spec:
                cout = scale_channels(channels, width)
                layers.append(ConvBNAct(cin, cout, 3, rngs=rngs))
                cin = cout
            blocks.append(nnx.List(layers))
        self.block1, self.block2, self.block3, self.block4, self.block5 = blocks
        outs = [scale_channels(spec[-1], width) for spec in BLOCKS]
        self.feature_channels = {2: outs[1], 4: outs[2], 8: outs[3], 16: outs[4], 32: outs[4]}

    def __call__(self, x: jax.Array) -> dict[int, jax.Array]:
        features = {}
        blocks = (self.block1, self.block2, self.block3, self.block4, self.block5)
        for index, block in enumerate(blocks):
            if index:
                x = max_pool(x)
            for layer in block:
                x = layer(x)
            if index:
                features[2**index] = x
        features[32] = max_pool(x)
        return features
