"""VGG-16 encoder with BatchNorm (as torchvision's ``vgg16_bn``), trained from scratch.

Blocks are named ``block1`` .. ``block5`` (as in HED). Features: stride 2 = block2, 4 = block3,
8 = block4, 16 = block5, 32 = block5 max-pooled. Cannot dilate (it down-samples by max-pooling,
as smp refuses it for DeepLabv3+). The network is :mod:`mia_plugins.backbones.vgg_net`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mia_core.engine.geometry import refuse_dilation, scale_channels
from mia_core.hooks import hookimpl


@dataclass(frozen=True)
class VGGBackbone:
    """VGG-16 (BN variant: trains from scratch); ``width`` scales every channel count."""

    name: str = "vgg16"
    width: float = 1.0
    can_dilate: bool = False

    @property
    def feature_channels(self) -> dict[int, int]:
        """Stride -> channels at this width."""
        c128, c256, c512 = (scale_channels(c, self.width) for c in (128, 256, 512))
        return {2: c128, 4: c256, 8: c512, 16: c512, 32: c512}

    def build(self, in_channels: int, rngs: Any, *, output_stride: int = 32) -> Any:
        """Create the encoder module; refuses an ``output_stride`` other than 32."""
        refuse_dilation(self.name, output_stride)
        from mia_plugins.backbones.vgg_net import VGG

        return VGG(in_channels, self.width, rngs=rngs)


@hookimpl
def mia_backbones() -> list[VGGBackbone]:
    """Register VGG-16."""
    return [VGGBackbone()]
