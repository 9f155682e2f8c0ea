"""MobileNetV2 encoder (torchvision layout: ``features[0..18]``), trained from scratch or from
converted torchvision weights.

Features: stride 2 = features[1], 4 = features[3], 8 = features[6], 16 = features[13],
32 = features[18] (the 1280-channel 1x1 conv).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from mia_core.hooks import hookimpl

STRIDES = (2, 4, 8, 16, 32)
# expansion t, output channels c, repeats n, first stride s (the MobileNetV2 paper's table 2)
_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
             (6, 160, 3, 2), (6, 320, 1, 1))
# index in ``features`` whose output is the feature map of each stride
_TAPS = {1: 2, 3: 4, 6: 8, 13: 16, 18: 32}
# torchvision's MobileNetV2 keys -> ours: its Conv2dNormActivation children 0/1 are our conv/bn;
# the projection (a bare conv and BatchNorm, indices 1/2 in block 1, 2/3 elsewhere) is our last
# ConvBNReLU without activation
TORCHVISION_RENAME: tuple[tuple[str, str | None], ...] = (
    (r"^classifier\.", None),
    (r"^features\.(\d+)\.conv\.(\d)\.0\.", r"features.\1.conv.\2.conv."),
    (r"^features\.(\d+)\.conv\.(\d)\.1\.", r"features.\1.conv.\2.bn."),
    (r"^features\.1\.conv\.1\.weight$", r"features.1.conv.1.conv.weight"),
    (r"^features\.1\.conv\.2\.", r"features.1.conv.1.bn."),
    (r"^features\.(\d+)\.conv\.2\.weight$", r"features.\1.conv.2.conv.weight"),
    (r"^features\.(\d+)\.conv\.3\.", r"features.\1.conv.2.bn."),
    (r"^features\.(\d+)\.0\.", r"features.\1.conv."),
    (r"^features\.(\d+)\.1\.", r"features.\1.bn."),
)


@dataclass(frozen=True)
class MobileNetV2Backbone:
    """MobileNetV2; ``width`` is the paper's width multiplier (channels rounded to 8)."""

    name: str = "mobilenetv2"
    width: float = 1.0
    strides: tuple[int, ...] = STRIDES

    def build(self, in_channels: int, rngs: Any) -> Any:
        """Create the encoder module; Flax is imported only now so plugin loading stays fast."""
        return _network_class()(in_channels, self.width, rngs=rngs)

    def state_dict_rename(self, fmt: str = "torchvision") -> tuple[tuple[str, str | None], ...]:
        """Regex pairs taking a ``fmt`` state dict's keys to this encoder's names (for
        ``mia_core.engine.state_dict.load_state_dict``); the classifier is dropped."""
        if fmt != "torchvision":
            raise ValueError(f"{self.name}: unknown state dict format {fmt!r}; known: torchvision")
        return TORCHVISION_RENAME


@functools.cache
def _network_class() -> type:
    """Define the NNX modules on first use (keeps JAX/Flax out of plugin import)."""
    import jax
    from flax import nnx

    from mia_core.engine.layers import ConvBNReLU, scale_channels

    class InvertedResidual(nnx.Module):
        """1x1 expand -> 3x3 depthwise -> 1x1 linear projection, residual when shapes allow."""

        def __init__(self, cin: int, cout: int, stride: int, expand: int, *, rngs: nnx.Rngs):
            hidden = cin * expand
            layers = []
            if expand != 1:
                layers.append(ConvBNReLU(cin, hidden, 1, relu6=True, padding=0, rngs=rngs))
            layers.append(
                ConvBNReLU(hidden, hidden, 3, stride, groups=hidden, relu6=True, padding=1, rngs=rngs)
            )
            layers.append(ConvBNReLU(hidden, cout, 1, activation=False, padding=0, rngs=rngs))
            self.conv = nnx.List(layers)
            self.residual = stride == 1 and cin == cout

        def __call__(self, x: jax.Array) -> jax.Array:
            y = x
            for layer in self.conv:
                y = layer(y)
            return x + y if self.residual else y

    class MobileNetV2(nnx.Module):
        """MobileNetV2 feature extractor returning ``{stride: feature map}``."""

        def __init__(self, in_channels: int, width: float, *, rngs: nnx.Rngs) -> None:
            first = scale_channels(32, width, 8)
            layers: list[nnx.Module] = [
                ConvBNReLU(in_channels, first, 3, 2, relu6=True, padding=1, rngs=rngs)
            ]
            cin = first
            channels = {0: first}
            for expand, c, repeats, stride in _SETTINGS:
                cout = scale_channels(c, width, 8)
                for r in range(repeats):
                    layers.append(InvertedResidual(cin, cout, stride if r == 0 else 1, expand, rngs=rngs))
                    channels[len(layers) - 1] = cout
                    cin = cout
            last = scale_channels(1280, max(1.0, width), 8)
            layers.append(ConvBNReLU(cin, last, 1, relu6=True, padding=0, rngs=rngs))
            channels[len(layers) - 1] = last
            self.features = nnx.List(layers)
            self.feature_channels = {stride: channels[i] for i, stride in _TAPS.items()}

        def __call__(self, x: jax.Array) -> dict[int, jax.Array]:
            out = {}
            for index, layer in enumerate(self.features):
                x = layer(x)
                if index in _TAPS:
                    out[_TAPS[index]] = x
            return out

    return MobileNetV2


@hookimpl
def mia_backbones() -> list[MobileNetV2Backbone]:
    """Register MobileNetV2."""
    return [MobileNetV2Backbone()]
