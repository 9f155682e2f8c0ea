"""DenseNet-121, -169 and -201 (Huang et al. 2017) with torchvision/timm names
(``features.conv0``, ``features.denseblock1.denselayer1.norm1`` ...). The network is
``densenet_net.py``, imported by ``build()`` only.

Features (timm's ``features_only`` taps): stride 2 = stem (conv0/norm0/ReLU), 4..16 = the
outputs of dense blocks 1..3 (before their transitions), 32 = block 4 after the final
BatchNorm and ReLU. DenseNet cannot dilate (its transitions average-pool), as in smp.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mia_core.engine.geometry import refuse_dilation
from mia_core.hooks import hookimpl

_BLOCKS = {121: (6, 12, 24, 16), 169: (6, 12, 32, 32), 201: (6, 12, 48, 32)}


@dataclass(frozen=True)
class DenseNetBackbone:
    """A DenseNet: ``blocks`` layers per dense block, ``growth`` channels added per layer."""

    name: str
    blocks: tuple[int, int, int, int]
    growth: int = 32
    stem: int = 64
    reference: str = ""
    can_dilate: bool = False

    @property
    def feature_channels(self) -> dict[int, int]:
        """Channels of each stride's feature map (each transition halves them)."""
        out, c = {2: self.stem}, self.stem
        for index, count in enumerate(self.blocks):
            c += count * self.growth
            out[4 * 2**index] = c
            c //= 2
        return out

    def build(self, in_channels: int, rngs: Any, *, output_stride: int = 32) -> Any:
        """Create the encoder; JAX/Flax are imported only now so plugin loading stays fast."""
        refuse_dilation(self.name, output_stride)
        import mia_plugins.backbones.densenet_net as densenet_net

        return densenet_net.DenseNet(in_channels, self.blocks, self.growth, self.stem, rngs=rngs)

    def state_dict_rename(self, fmt: str = "torchvision") -> tuple[tuple[str, str | None], ...]:
        """Regex pairs taking a torchvision or timm state dict's keys to this encoder's names
        (the same; the classifier is dropped)."""
        if fmt not in ("torchvision", "timm"):
            raise ValueError(f"{self.name}: unknown state dict format {fmt!r}; known: torchvision, timm")
        return ((r"^classifier\.", None),)


@hookimpl
def mia_backbones() -> list[DenseNetBackbone]:
    """Register DenseNet-121, -169 and -201."""
    return [DenseNetBackbone(f"densenet{d}", b, reference=f"densenet{d}") for d, b in _BLOCKS.items()]
