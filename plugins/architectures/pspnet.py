"""PSPNet (Zhao et al. 2017), as segmentation_models_pytorch's ``PSPNet`` (encoder depth 3): a
pyramid pooling module on the stride-8 features (average pooling into 1, 2, 3 and 6 bins, 1x1
conv to a quarter of the channels, bilinear back), concatenated with them, a 1x1 conv to 512
channels, a 3x3 head and bilinear 8x up-sampling. smp's dropout is left out. mia's encoders are
built whole: the stages past stride 8 are not used (a jitted forward drops their computation).
The network is :mod:`mia_plugins.architectures.pspnet_net`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mia_core.hooks import hookimpl


@dataclass(frozen=True)
class PSPNetArchitecture:
    """PSPNet factory; ``bins`` are the pooling grid sizes, ``out_channels`` smp's psp_out_channels."""

    name: str = "pspnet"
    bins: tuple[int, ...] = (1, 2, 3, 6)
    out_channels: int = 512
    required_strides: tuple[int, ...] = (8,)
    size_multiple: int = 8
    output_stride: int = 32

    def build(self, backbone: Any, in_channels: int, num_classes: int, rngs: Any) -> Any:
        """Build encoder + pyramid pooling head; a backbone without stride 8 is refused by name."""
        from mia_core.engine.model import build_encoder
        from mia_plugins.architectures.pspnet_net import PSPNet

        encoder, channels = build_encoder(self, backbone, in_channels, rngs)
        return PSPNet(encoder, channels[8], self.bins, self.out_channels, num_classes, self.size_multiple, rngs=rngs)


@hookimpl
def mia_architectures() -> list[PSPNetArchitecture]:
    """Register PSPNet."""
    return [PSPNetArchitecture()]
