"""DeepLabv3+ (Chen et al. 2018), as segmentation_models_pytorch's ``DeepLabV3Plus``: the encoder at
output stride 16 (last stage dilated), ASPP (1x1 conv, separable 3x3 convs at rates 12, 24, 36,
image pooling; 256 channels; projected by a 1x1 conv) and a separable 3x3 conv, bilinear 4x up to
stride 4, concatenated with the stride-4 features reduced to 48 channels, a separable 3x3 conv, a
1x1 head and bilinear 4x up-sampling. smp's dropout is left out. Backbones that cannot dilate
(VGG, DenseNet, Xception, Inception, as in smp) are refused by name. The network is
:mod:`mia_plugins.architectures.deeplabv3plus_net`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mia_core.hooks import hookimpl


@dataclass(frozen=True)
class DeepLabV3PlusArchitecture:
    """DeepLabv3+ factory; ``channels`` of ASPP and decoder, ``rates`` of the atrous branches."""

    name: str = "deeplabv3plus"
    channels: int = 256
    rates: tuple[int, int, int] = (12, 24, 36)
    skip_channels: int = 48
    required_strides: tuple[int, ...] = (4, 32)
    size_multiple: int = 16
    output_stride: int = 16

    def build(self, backbone: Any, in_channels: int, num_classes: int, rngs: Any) -> Any:
        """Build the dilated encoder + DeepLabv3+ decoder; a backbone that cannot dilate is refused."""
        from mia_core.engine.model import build_encoder
        from mia_plugins.architectures.deeplabv3plus_net import DeepLabV3Plus

        encoder, channels = build_encoder(self, backbone, in_channels, rngs)
        return DeepLabV3Plus(encoder, channels, self.channels, self.rates, self.skip_channels, num_classes,
                             self.size_multiple, rngs=rngs)


@hookimpl
def mia_architectures() -> list[DeepLabV3PlusArchitecture]:
    """Register DeepLabv3+."""
    return [DeepLabV3PlusArchitecture()]
