"""MobileNetV2 encoder (torchvision layout: ``features[0..18]``), trained from scratch or from
converted torchvision weights.

Features: stride 2 = features[1], 4 = features[3], 8 = features[6], 16 = features[13],
32 = features[18] (the 1280-channel 1x1 conv). Can dilate (as smp: the blocks past the output
stride run at stride 1, dilated). The network is :mod:`mia_plugins.backbones.mobilenet_net`,
imported by ``build`` so start-up stays free of JAX.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mia_core.engine.geometry import scale_channels
from mia_core.hooks import hookimpl

# output channels of the feature taps at strides 2, 4, 8, 16 (the last is the 1280-channel conv)
_TAP_CHANNELS = (16, 24, 32, 96)
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
    can_dilate: bool = True

    @property
    def feature_channels(self) -> dict[int, int]:
        """Stride -> channels at this width."""
        taps = [scale_channels(c, self.width, 8) for c in _TAP_CHANNELS]
        return {2: taps[0], 4: taps[1], 8: taps[2], 16: taps[3], 32: scale_channels(1280, max(1.0, self.width), 8)}

    def build(self, in_channels: int, rngs: Any, *, output_stride: int = 32) -> Any:
        """Create the encoder module (dilated below ``output_stride``)."""
        from mia_plugins.backbones.mobilenet_net import MobileNetV2

        return MobileNetV2(in_channels, self.width, output_stride, rngs=rngs)

    def state_dict_rename(self, fmt: str = "torchvision") -> tuple[tuple[str, str | None], ...]:
        """Regex pairs taking a ``fmt`` state dict's keys to this encoder's names (for
        ``mia_core.engine.state_dict.load_state_dict``); the classifier is dropped."""
        if fmt != "torchvision":
            raise ValueError(f"{self.name}: unknown state dict format {fmt!r}; known: torchvision")
        return TORCHVISION_RENAME


@hookimpl
def mia_backbones() -> list[MobileNetV2Backbone]:
    """Register MobileNetV2."""
    return [MobileNetV2Backbone()]
