"""U-Net: a decoder with skip connections from a backbone's stride-2..32 features.

Each decoder block up-samples 2x (nearest), concatenates the backbone's feature map of that
stride, and applies two 3x3 conv/BN/ReLU layers; a fifth block returns to input resolution
without a skip, and a 3x3 conv gives per-pixel logits (the layout of segmentation_models' U-Net).
The network is :mod:`mia_plugins.architectures.unet_net`, imported by ``build``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mia_core.engine.config import SIZE_MULTIPLE
from mia_core.hooks import hookimpl


@dataclass(frozen=True)
class UNetArchitecture:
    """U-Net factory; ``decoder_channels`` are the widths of the blocks at strides 16, 8, 4, 2, 1."""

    name: str = "unet"
    decoder_channels: tuple[int, int, int, int, int] = (256, 128, 64, 32, 16)
    required_strides: tuple[int, ...] = (2, 4, 8, 16, 32)
    size_multiple: int = SIZE_MULTIPLE
    output_stride: int = 32

    def build(self, backbone: Any, in_channels: int, num_classes: int, rngs: Any) -> Any:
        """Build encoder + decoder; raises ValueError when the backbone lacks a needed stride."""
        from mia_core.engine.model import build_encoder
        from mia_plugins.architectures.unet_net import UNet

        encoder, channels = build_encoder(self, backbone, in_channels, rngs)
        return UNet(encoder, channels, self.decoder_channels, num_classes, self.size_multiple, rngs=rngs)


@hookimpl
def mia_architectures() -> list[UNetArchitecture]:
    """Register U-Net."""
    return [UNetArchitecture()]
