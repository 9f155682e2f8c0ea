"""A small plain convolutional encoder: "no backbone", cheap enough to train on a 2-core CPU.

Each of the five stages halves the resolution with a strided 3x3 conv and adds one more 3x3 conv
(both with BatchNorm and ReLU); features at strides 2, 4, 8, 16, 32.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from mia_core.hooks import hookimpl

STRIDES = (2, 4, 8, 16, 32)


@dataclass(frozen=True)
class PlainBackbone:
    """Plain encoder with stage widths ``channels`` scaled by ``width``."""

    name: str = "plain"
    channels: tuple[int, int, int, int, int] = (16, 32, 64, 128, 256)
    width: float = 1.0
    strides: tuple[int, ...] = STRIDES

    def build(self, in_channels: int, rngs: Any) -> Any:
        """Create the encoder module; Flax is imported only now so plugin loading stays fast."""
        return _network_class()(in_channels, self.channels, self.width, rngs=rngs)


@functools.cache
def _network_class() -> type:
    """Define the NNX module on first use (keeps JAX/Flax out of plugin import)."""
    import jax
    from flax import nnx

    from mia_core.engine.layers import ConvBNReLU, scale_channels

    class PlainEncoder(nnx.Module):
        """Five (strided conv, conv) stages returning ``{stride: feature map}``."""

        def __init__(
            self, in_channels: int, channels: tuple[int, ...], width: float, *, rngs: nnx.Rngs
        ) -> None:
            cin = in_channels
            stages = []
            self.feature_channels = {}
            for index, c in enumerate(channels):
                cout = scale_channels(c, width)
                stages.append(
                    nnx.List([ConvBNReLU(cin, cout, 3, 2, rngs=rngs), ConvBNReLU(cout, cout, 3, rngs=rngs)])
                )
                self.feature_channels[2 ** (index + 1)] = cout
                cin = cout
            self.stages = nnx.List(stages)

        def __call__(self, x: jax.Array) -> dict[int, jax.Array]:
            features = {}
            for index, stage in enumerate(self.stages):
                for layer in stage:
                    x = layer(x)
                features[2 ** (index + 1)] = x
            return features

    return PlainEncoder


@hookimpl
def mia_backbones() -> list[PlainBackbone]:
    """Register the plain encoder."""
    return [PlainBackbone()]
