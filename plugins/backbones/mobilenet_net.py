"""The MobileNetV2 network of :mod:`mia_plugins.backbones.mobilenet` (imported when a model is built)."""

from __future__ import annotations

import jax
from flax import nnx

from mia_core.engine.geometry import dilated_strides, scale_channels
from mia_core.engine.layers import ConvBNAct

# expansion t, output channels c, repeats n, first stride s (the MobileNetV2 paper's table 2)
SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
            (6, 160, 3, 2), (6, 320, 1, 1))
# index in ``features`` whose output is the feature map of each (nominal) stride
TAPS = {1: 2, 3: 4, 6: 8, 13: 16, 18: 32}


class InvertedResidual(nnx.Module):
    """1x1 expand -> 3x3 depthwise -> 1x1 linear projection, residual when shapes allow."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int, dilation: int = 1, *, rngs: nnx.Rngs):
        hidden = cin * expand
        layers = []
        if expand != 1:
            layers.append(ConvBNAct(cin, hidden, 1, activation="relu6", rngs=rngs))
        layers.append(ConvBNAct(hidden, hidden, 3, stride, groups=hidden, dilation=dilation,
                                activation="relu6", rngs=rngs))
        layers.append(ConvBNAct(hidden, cout, 1, activation=None, rngs=rngs))
        self.conv = nnx.List(layers)
        self.residual = stride == 1 and cin == cout

    def __call__(self, x: jax.Array) -> jax.Array:
        y = x
        for layer in self.conv:
            y = layer(y)
        return x + y if self.residual else y


class MobileNetV2(nnx.Module):
    """MobileNetV2 feature extractor returning ``{stride: feature map}``; at ``output_stride`` 16
    or 8 the later blocks are dilated and the maps keep the keys of their nominal strides."""

    def __init__(self, in_channels: int, width: float, output_stride: int = 32, *, rngs: nnx.Rngs) -> None:
        first = scale_channels(32, width, 8)
        layers: list[nnx.Module] = [ConvBNAct(in_channels, first, 3, 2, activation="relu6", rngs=rngs)]
        blocks = [(t, c, s if r == 0 else 1) for t, c, n, s in SETTINGS for r in range(n)]
        plan = dilated_strides([2] + [s for _, _, s in blocks], output_stride)[1:]
        cin = first
        channels = {0: first}
        for (expand, c, _), (stride, dilation) in zip(blocks, plan):
            cout = scale_channels(c, width, 8)
            layers.append(InvertedResidual(cin, cout, stride, expand, dilation, rngs=rngs))
            channels[len(layers) - 1] = cout
            cin = cout
        last = scale_channels(1280, max(1.0, width), 8)
        layers.append(ConvBNAct(cin, last, 1, activation="relu6", rngs=rngs))
        channels[len(layers) - 1] = last
        self.features = nnx.List(layers)
        self.feature_channels = {stride: channels[i] for i, stride in TAPS.items()}

    def __call__(self, x: jax.Array) -> dict[int, jax.Array]:
        out = {}
        for index, layer in enumerate(self.features):
            x = layer(x)
            if index in TAPS:
                out[TAPS[index]] = x
        return out
