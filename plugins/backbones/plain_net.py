"""The network of :mod:`mia_plugins.backbones.plain` (imported when a model is built)."""

from __future__ import annotations

import jax
from flax import nnx

from mia_core.engine.geometry import dilated_strides, scale_channels
from mia_core.engine.layers import ConvBNAct


class PlainEncoder(nnx.Module):
    """Five (strided conv, conv) stages returning ``{stride: feature map}``; at ``output_stride``
    16 or 8 the last stages are dilated and keep the keys of their nominal strides."""

    def __init__(
        self, in_channels: int, channels: tuple[int, ...], width: float, output_stride: int = 32,
        *, rngs: nnx.Rngs,
    ) -> None:
        cin = in_channels
        stages = []
        self.feature_channels = {}
        plan = dilated_strides([2] * len(channels), output_stride)
        for index, (c, (stride, dilation)) in enumerate(zip(channels, plan)):
            cout = scale_channels(c, width)
            stages.append(nnx.List([
                ConvBNAct(cin, cout, 3, stride, dilation=dilation, rngs=rngs),
                ConvBNAct(cout, cout, 3, dilation=dilation, rngs=rngs),
            ]))
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
