"""VGG-16 encoder with BatchNorm (as torchvision's ``vgg16_bn``), trained from scratch.

Blocks are named ``block1`` .. ``block5`` (as in HED). Features: stride 2 = block2, 4 = block3,
8 = block4, 16 = block5, 32 = block5 max-pooled.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from mia_core.hooks import hookimpl

STRIDES = (2, 4, 8, 16, 32)
_BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))


@dataclass(frozen=True)
class VGGBackbone:
    """VGG-16 (BN variant: trains from scratch); ``width`` scales every channel count."""

    name: str = "vgg16"
    width: float = 1.0
    strides: tuple[int, ...] = STRIDES

    def build(self, in_channels: int, rngs: Any) -> Any:
        """Create the encoder module; Flax is imported only now so plugin loading stays fast."""
        return _network_class()(in_channels, self.width, rngs=rngs)


@functools.cache
def _network_class() -> type:
    """Define the NNX module on first use (keeps JAX/Flax out of plugin import)."""
    import jax
    from flax import nnx

    from mia_core.engine.layers import ConvBNReLU, max_pool, scale_channels

    class VGG(nnx.Module):
        """Five conv blocks separated by 2x2 max-pools; returns ``{stride: feature map}``."""

        def __init__(self, in_channels: int, width: float, *, rngs: nnx.Rngs) -> None:
            cin = in_channels
            blocks = []
            for spec in _BLOCKS:
                layers = []
                for channels in spec:
                    cout = scale_channels(channels, width)
                    layers.append(ConvBNReLU(cin, cout, 3, rngs=rngs))
                    cin = cout
                blocks.append(nnx.List(layers))
            self.block1, self.block2, self.block3, self.block4, self.block5 = blocks
            outs = [scale_channels(spec[-1], width) for spec in _BLOCKS]
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

    return VGG


@hookimpl
def mia_backbones() -> list[VGGBackbone]:
    """Register VGG-16."""
    return [VGGBackbone()]
