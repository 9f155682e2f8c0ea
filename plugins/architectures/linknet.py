"""LinkNet (Chaurasia & Culurciello 2017), as segmentation_models_pytorch's ``Linknet``: five
decoder blocks (1x1 conv to a quarter of the channels, 4x4 stride-2 transposed convolution,
1x1 conv, each with BatchNorm and ReLU) whose output is added to the encoder's feature of that
stride, then a 32-channel block to full resolution and a 1x1 head. The network is
:mod:`mia_plugins.architectures.linknet_net`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mia_core.engine.config import SIZE_MULTIPLE
from mia_core.hooks import hookimpl


@dataclass(frozen=True)
class LinkNetArchitecture:
    """LinkNet factory; ``prefinal_channels`` is the last block's width (smp: 32)."""

    name: str = "linknet"
    prefinal_channels: int = 32
    required_strides: tuple[int, ...] = (2, 4, 8, 16, 32)
    size_multiple: int = SIZE_MULTIPLE
    output_stride: int = 32

    def build(self, backbone: Any, in_channels: int, num_classes: int, rngs: Any) -> Any:
        """Build encoder + LinkNet decoder; a backbone without strides 2..32 is refused by name."""
        from mia_core.engine.model import build_encoder
        from mia_plugins.architectures.linknet_net import LinkNet

        encoder, channels = build_encoder(self, backbone, in_channels, rngs)
        return LinkNet(encoder, channels, self.prefinal_channels, num_classes, self.size_multiple, rngs=rngs)


@hookimpl
def mia_architectures() -> list[LinkNetArchitecture]:
    """Register LinkNet."""
    return [LinkNetArchitecture()]
