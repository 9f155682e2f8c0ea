"""FPN (Lin et al. 2017) with the panoptic-FPN segmentation head (Kirillov et al. 2019), as
segmentation_models_pytorch's ``FPN``: a 256-channel pyramid on the stride-4..32 features
(1x1 lateral convolutions, nearest 2x top-down), 128-channel segmentation branches (3x3 conv,
GroupNorm, ReLU, bilinear 2x up to stride 4) summed, a 1x1 head and bilinear 4x up-sampling.
smp's dropout is left out. The network is :mod:`mia_plugins.architectures.fpn_net`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mia_core.engine.config import SIZE_MULTIPLE
from mia_core.hooks import hookimpl


@dataclass(frozen=True)
class FPNArchitecture:
    """FPN factory; ``pyramid_channels`` and ``segmentation_channels`` as smp's defaults."""

    name: str = "fpn"
    pyramid_channels: int = 256
    segmentation_channels: int = 128
    required_strides: tuple[int, ...] = (4, 8, 16, 32)
    size_multiple: int = SIZE_MULTIPLE
    output_stride: int = 32

    def build(self, backbone: Any, in_channels: int, num_classes: int, rngs: Any) -> Any:
        """Build encoder + FPN decoder; a backbone without strides 4..32 is refused by name."""
        from mia_core.engine.model import build_encoder
        from mia_plugins.architectures.fpn_net import FPN

        encoder, channels = build_encoder(self, backbone, in_channels, rngs)
        return FPN(encoder, channels, self.pyramid_channels, self.segmentation_channels, num_classes,
                   self.size_multiple, rngs=rngs)


@hookimpl
def mia_architectures() -> list[FPNArchitecture]:
    """Register FPN."""
    return [FPNArchitecture()]
