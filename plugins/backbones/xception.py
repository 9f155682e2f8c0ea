"""Xception (Chollet 2017) as timm's ``legacy_xception`` (Cadene's port of the Keras weights),
with its names (``conv1``, ``block1.rep.0.conv1``, ``block1.skipbn`` ...). The network lives in
``xception_net.py``, imported by ``build()`` only.

Features (timm's ``features_only`` taps): stride 2 = the stem (``act2``), 4 / 8 / 16 = the
outputs of blocks 1, 2 and 11 after the ReLU that opens the next block (``block2.rep.0``,
``block3.rep.0``, ``block12.rep.0``), 32 = the exit flow (``act4``).

Exact sizes: the published stem convolutions are unpadded, so a 299 input gives 149, 147, 74 ...;
the encoder mia builds pads both by 1, as segmentation_models_pytorch's Xception encoder does,
so each stride-s map is exactly input / s. Padding adds no parameters, so timm's state dict loads
unchanged; ``timm_padding=True`` builds the published padding, on which the ``reference`` tests
check the conversion against timm itself (and the padded encoder against timm's model padded the
same way). Xception cannot dilate (its blocks downsample by max-pooling), as in smp.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mia_core.engine.geometry import refuse_dilation
from mia_core.hooks import hookimpl


@dataclass(frozen=True)
class XceptionBackbone:
    """Xception; ``timm_padding`` keeps the published unpadded stem (see the module docstring)."""

    name: str = "xception"
    reference: str = "legacy_xception"
    timm_padding: bool = False
    can_dilate: bool = False

    @property
    def feature_channels(self) -> dict[int, int]:
        """Channels of each stride's feature map."""
        return {2: 64, 4: 128, 8: 256, 16: 728, 32: 2048}

    def build(self, in_channels: int, rngs: Any, *, output_stride: int = 32) -> Any:
        """Create the encoder; JAX/Flax are imported only now so plugin loading stays fast."""
        refuse_dilation(self.name, output_stride)
        import mia_plugins.backbones.xception_net as xception_net

        return xception_net.Xception(in_channels, pad=0 if self.timm_padding else 1, rngs=rngs)

    def state_dict_rename(self, fmt: str = "timm") -> tuple[tuple[str, str | None], ...]:
        """Regex pairs taking a timm (or Cadene's pretrainedmodels) state dict's keys to this
        encoder's names: the separable convolutions' depthwise ``conv1`` is the kit's
        ``depthwise``; the classifier is dropped."""
        if fmt != "timm":
            raise ValueError(f"{self.name}: unknown state dict format {fmt!r}; known: timm")
        return ((r"^(fc|last_linear)\.", None),
                (r"^(block\d+\.rep\.\d+|conv3|conv4)\.conv1\.", r"\1.depthwise."))


@hookimpl
def mia_backbones() -> list[XceptionBackbone]:
    """Register Xception."""
    return [XceptionBackbone()]
