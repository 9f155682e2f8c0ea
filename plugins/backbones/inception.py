"""Inception-v3 (Szegedy et al. 2016) and Inception-ResNet-v2 (Szegedy et al. 2017) with timm's
layout and names (``inception_v3``: ``Conv2d_1a_3x3.conv``, ``Mixed_5b.branch1x1.bn`` ...;
``inception_resnet_v2``: ``conv2d_1a``, ``repeat.0.branch1.0`` ...). The networks live in
``inception_net.py``, imported by ``build()`` only.

Features (timm's ``features_only`` taps): Inception-v3 stride 2 = ``Conv2d_2b_3x3``, 4 =
``Conv2d_4a_3x3``, 8 = ``Mixed_5d``, 16 = ``Mixed_6e``, 32 = ``Mixed_7c``; Inception-ResNet-v2
2 = ``conv2d_2b``, 4 = ``conv2d_4a``, 8 = ``repeat``, 16 = ``repeat_1``, 32 = ``conv2d_7b``.

Exact sizes: the published networks use unpadded ("valid") 3x3 convolutions and max-pools, so a
299 input gives 149, 147, 73 ... and no stride's map is input / stride. The encoder mia builds pads
every such 3x3 convolution and every 3x3 max-pool by 1, as segmentation_models_pytorch does for
its Inception encoders, so each stride-s map is exactly input / s (what the decoders need). The
padding adds no parameters, so a timm or torchvision state dict loads unchanged.
``timm_padding=True`` builds the published padding instead (maps of timm's sizes, not for the
decoders): the ``reference`` tests check the conversion on it against timm itself, and the padded
encoder against timm's model padded the same way. Neither can dilate (as in smp: they downsample
by pooling inside their reduction blocks). BatchNorm epsilon is 1e-3, as in timm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mia_core.engine.geometry import refuse_dilation
from mia_core.hooks import hookimpl

_CHANNELS = {
    "v3": {2: 64, 4: 192, 8: 288, 16: 768, 32: 2048},
    "resnetv2": {2: 64, 4: 192, 8: 320, 16: 1088, 32: 1536},
}


@dataclass(frozen=True)
class InceptionBackbone:
    """Inception-v3 (``variant`` "v3") or Inception-ResNet-v2 ("resnetv2"); ``timm_padding``
    keeps the published unpadded layers (see the module docstring)."""

    name: str
    variant: str
    reference: str = ""
    timm_padding: bool = False
    can_dilate: bool = False

    @property
    def feature_channels(self) -> dict[int, int]:
        """Channels of each stride's feature map."""
        return dict(_CHANNELS[self.variant])

    def build(self, in_channels: int, rngs: Any, *, output_stride: int = 32) -> Any:
        """Create the encoder; JAX/Flax are imported only now so plugin loading stays fast."""
        refuse_dilation(self.name, output_stride)
        import mia_plugins.backbones.inception_net as inception_net

        net = inception_net.InceptionV3 if self.variant == "v3" else inception_net.InceptionResNetV2
        return net(in_channels, pad=0 if self.timm_padding else 1, rngs=rngs)

    def state_dict_rename(self, fmt: str = "timm") -> tuple[tuple[str, str | None], ...]:
        """Regex pairs taking a timm (or torchvision, for Inception-v3) state dict's keys to this
        encoder's names: the same names; the classifier and the auxiliary head are dropped."""
        if fmt not in ("torchvision", "timm"):
            raise ValueError(f"{self.name}: unknown state dict format {fmt!r}; known: torchvision, timm")
        return ((r"^(fc|classif|last_linear|AuxLogits)\.", None),)


@hookimpl
def mia_backbones() -> list[InceptionBackbone]:
    """Register Inception-v3 and Inception-ResNet-v2."""
    return [InceptionBackbone("inceptionv3", "v3", reference="inception_v3"),
            InceptionBackbone("inceptionresnetv2", "resnetv2", reference="inception_resnet_v2")]
