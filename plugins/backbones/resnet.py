"""ResNet-18 and ResNet-34 encoders (torchvision layout, basic blocks), trained from scratch.

Features: stride 2 = stem (conv1/bn1/relu), 4 = layer1, 8 = layer2, 16 = layer3, 32 = layer4.
Can dilate (output stride 16: layer4 dilated, 8: layer3 and layer4). The network is
:mod:`mia_plugins.backbones.resnet_net`, imported by ``build`` so start-up stays free of JAX.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mia_core.engine.geometry import scale_channels
from mia_core.hooks import hookimpl

STAGE_CHANNELS = (64, 128, 256, 512)


@dataclass(frozen=True)
class ResNetBackbone:
    """A ResNet with basic blocks; ``width`` scales every channel count (1.0 = the paper's)."""

    name: str
    blocks: tuple[int, int, int, int]
    width: float = 1.0
    can_dilate: bool = True

    @property
    def feature_channels(self) -> dict[int, int]:
        """Stride -> channels at this width."""
        stem, *stages = (scale_channels(c, self.width) for c in (64, *STAGE_CHANNELS))
        return {2: stem, 4: stages[0], 8: stages[1], 16: stages[2], 32: stages[3]}

    def build(self, in_channels: int, rngs: Any, *, output_stride: int = 32) -> Any:
        """Create the encoder module (dilated below ``output_stride``)."""
        from mia_plugins.backbones.resnet_net import ResNet

        return ResNet(in_channels, self.blocks, self.width, output_stride, rngs=rngs)


@hookimpl
def mia_backbones() -> list[ResNetBackbone]:
    """Register ResNet-18 and ResNet-34."""
    return [ResNetBackbone("resnet18", (2, 2, 2, 2)), ResNetBackbone("resnet34", (3, 4, 6, 3))]
