"""VGG-16 and VGG-19 (Simonyan & Zisserman 2014) as timm/torchvision build them: plain
(``vgg16``, ``vgg19``, as smp and the Keras models MIA used) or with BatchNorm (``vgg16_bn``,
``vgg19_bn``, which train from scratch more readily). The network is ``vgg_net.py``, imported by
``build()`` only; its parameters carry torchvision's ``features.<index>`` names, so their state
dicts load as they are.

Features: stride 2 = end of block 2, 4 = block 3, 8 = block 4, 16 = block 5, 32 = block 5
max-pooled (timm's ``features_only`` taps). VGG cannot dilate (its strides are max-pools), as
in smp.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mia_core.engine.geometry import refuse_dilation
from mia_core.hooks import hookimpl

#: Convolutions per block
_DEPTHS = {"vgg16": (2, 2, 3, 3, 3), "vgg19": (2, 2, 4, 4, 4)}
_CHANNELS = (64, 128, 256, 512, 512)


@dataclass(frozen=True)
class VGGBackbone:
    """VGG with ``depths`` convolutions per block; ``width`` scales every channel count."""

    name: str = "vgg16"
    depths: tuple[int, ...] = _DEPTHS["vgg16"]
    batch_norm: bool = False
    width: float = 1.0
    reference: str = "vgg16"
    can_dilate: bool = False

    def block_channels(self) -> tuple[int, ...]:
        """Output channels of each of the five blocks."""
        return tuple(max(8, int(c * self.width)) for c in _CHANNELS)

    @property
    def feature_channels(self) -> dict[int, int]:
        """Channels of each stride's feature map."""
        c = self.block_channels()
        return {2: c[1], 4: c[2], 8: c[3], 16: c[4], 32: c[4]}

    def build(self, in_channels: int, rngs: Any, *, output_stride: int = 32) -> Any:
        """Create the encoder; JAX/Flax are imported only now so plugin loading stays fast."""
        refuse_dilation(self.name, output_stride)
        import mia_plugins.backbones.vgg_net as vgg_net

        return vgg_net.VGG(in_channels, self.depths, self.block_channels(), self.batch_norm, rngs=rngs)

    def state_dict_rename(self, fmt: str = "torchvision") -> tuple[tuple[str, str | None], ...]:
        """Regex pairs taking a torchvision or timm state dict's keys to this encoder's names
        (the same; the classifier and timm's ``pre_logits`` are dropped)."""
        if fmt not in ("torchvision", "timm"):
            raise ValueError(f"{self.name}: unknown state dict format {fmt!r}; known: torchvision, timm")
        return ((r"^(classifier|pre_logits|head)\.", None),)


@hookimpl
def mia_backbones() -> list[VGGBackbone]:
    """Register VGG-16 and VGG-19, plain and with BatchNorm."""
    nets = []
    for name, depths in _DEPTHS.items():
        nets.append(VGGBackbone(name, depths, reference=name))
        nets.append(VGGBackbone(f"{name}_bn", depths, batch_norm=True, reference=f"{name}_bn"))
    return nets
