"""A small plain convolutional encoder: "no backbone", cheap enough to train on a 2-core CPU.

Each of the five stages halves the resolution with a strided 3x3 conv and adds one more 3x3 conv
(both with BatchNorm and ReLU); features at strides 2, 4, 8, 16, 32. Can dilate (the last
stages then run at stride 1, dilated). The network is :mod:`mia_plugins.backbones.plain_net`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mia_core.engine.geometry import scale_channels
from mia_core.hooks import hookimpl


@dataclass(frozen=True)
class PlainBackbone:
    """Plain encoder with stage widths ``channels`` scaled by ``width``."""

    name: str = "plain"
    channels: tuple[int, int, int, int, int] = (16, 32, 64, 128, 256)
    width: float = 1.0
    can_dilate: bool = True

    @property
    def feature_channels(self) -> dict[int, int]:
        """Stride -> channels at this width."""
        return {2 ** (i + 1): scale_channels(c, self.width) for i, c in enumerate(self.channels)}

    def build(self, in_channels: int, rngs: Any, *, output_stride: int = 32) -> Any:
        """Create the encoder module (dilated below ``output_stride``)."""
        from mia_plugins.backbones.plain_net import PlainEncoder

        return PlainEncoder(in_channels, self.channels, self.width, output_stride, rngs=rngs)


@hookimpl
def mia_backbones() -> list[PlainBackbone]:
    """Register the plain encoder."""
    return [PlainBackbone()]
