"""The ResNet family: ResNet-18..152, ResNeXt-50/101, SE-ResNet-18..152, SE-ResNeXt-50/101,
SENet-154. The networks live in ``resnet_net.py``, imported by ``build()`` only.

Features: stride 2 = stem, 4..32 = ``layer1``..``layer4``. Parameter names follow torchvision /
timm (ResNet, ResNeXt) and timm's ``legacy_se*`` models (the SE-nets), so their state dicts load
with :func:`mia_core.engine.state_dict.load_state_dict` and :meth:`ResNetBackbone.state_dict_rename`.
All can dilate (``output_stride`` 16 or 8), as in segmentation_models_pytorch, with timm's rule
(the first block of a dilated stage keeps the previous dilation; smp dilates it too).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mia_core.engine.geometry import scale_channels
from mia_core.hooks import hookimpl

_PLANES = (64, 128, 256, 512)


def scaled(channels: int, width: float) -> int:
    """Channels times the width multiplier (1.0 = the paper's), kept a multiple of 8."""
    return channels if width == 1.0 else scale_channels(channels, width, 8)


@dataclass(frozen=True)
class ResNetBackbone:
    """One ResNet-family encoder; ``width`` scales every channel count (for tests, small machines).

    ``legacy`` picks the SE-nets' layout ("seresnet", "seresnext", "senet154"); ``groups`` and
    ``base_width`` make ResNeXt bottlenecks; ``reference`` is timm's name of the same network.
    """

    name: str
    blocks: tuple[int, int, int, int]
    width: float = 1.0
    bottleneck: bool = False
    groups: int = 1
    base_width: int = 64
    se: bool = False
    legacy: str = ""
    reference: str = ""
    can_dilate: bool = True

    @property
    def feature_channels(self) -> dict[int, int]:
        """Channels of each stride's feature map."""
        stem = scaled(128 if self.legacy == "senet154" else 64, self.width)
        expansion = 4 if self.bottleneck else 1
        out = {2: stem}
        for index, planes in enumerate(_PLANES):
            out[4 * 2**index] = scaled(planes, self.width) * expansion
        return out

    def build(self, in_channels: int, rngs: Any, *, output_stride: int = 32) -> Any:
        """Create the encoder; JAX/Flax are imported only now so plugin loading stays fast."""
        import mia_plugins.backbones.resnet_net as resnet_net

        return resnet_net.ResNet(in_channels, self, output_stride, rngs=rngs)

    def state_dict_rename(self, fmt: str = "timm") -> tuple[tuple[str, str | None], ...]:
        """Regex pairs taking a torchvision or timm state dict's keys to this encoder's names
        (the names are theirs; the classifier ``fc`` / ``last_linear`` is dropped)."""
        if fmt not in ("torchvision", "timm"):
            raise ValueError(f"{self.name}: unknown state dict format {fmt!r}; known: torchvision, timm")
        return ((r"^(fc|last_linear)\.", None),)


def _family() -> list[ResNetBackbone]:
    """Every network of the family with the depths and widths of its paper."""
    depths = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}
    nets = []
    for depth, blocks in depths.items():
        bottleneck = depth >= 50
        nets.append(ResNetBackbone(f"resnet{depth}", blocks, bottleneck=bottleneck,
                                   reference=f"resnet{depth}"))
        nets.append(ResNetBackbone(f"seresnet{depth}", blocks, bottleneck=bottleneck, se=True,
                                   legacy="seresnet", reference=f"legacy_seresnet{depth}"))
    nets += [
        ResNetBackbone("resnext50", depths[50], bottleneck=True, groups=32, base_width=4,
                       reference="resnext50_32x4d"),
        ResNetBackbone("resnext101", depths[101], bottleneck=True, groups=32, base_width=8,
                       reference="resnext101_32x8d"),
        ResNetBackbone("seresnext50", depths[50], bottleneck=True, groups=32, base_width=4, se=True,
                       legacy="seresnext", reference="legacy_seresnext50_32x4d"),
        ResNetBackbone("seresnext101", depths[101], bottleneck=True, groups=32, base_width=4, se=True,
                       legacy="seresnext", reference="legacy_seresnext101_32x4d"),
        ResNetBackbone("senet154", (3, 8, 36, 3), bottleneck=True, groups=64, se=True,
                       legacy="senet154", reference="legacy_senet154"),
    ]
    return nets


@hookimpl
def mia_backbones() -> list[ResNetBackbone]:
    """Register the ResNet family."""
    return _family()
