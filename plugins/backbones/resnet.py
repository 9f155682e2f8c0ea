"""ResNet-18 and ResNet-34 encoders (torchvision layout, basic blocks), trained from scratch.

Features: stride 2 = stem (conv1/bn1/relu), 4 = layer1, 8 = layer2, 16 = layer3, 32 = layer4.
Attribute names follow torchvision (``conv1``, ``bn1``, ``layer1[0].conv1``, ``downsample``) so
that a torchvision-format weights file maps onto the parameters one to one.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from mia_core.hooks import hookimpl

STRIDES = (2, 4, 8, 16, 32)
_STAGE_CHANNELS = (64, 128, 256, 512)


@dataclass(frozen=True)
class ResNetBackbone:
    """A ResNet with basic blocks; ``width`` scales every channel count (1.0 = the paper's)."""

    name: str
    blocks: tuple[int, int, int, int]
    width: float = 1.0
    strides: tuple[int, ...] = STRIDES

    def build(self, in_channels: int, rngs: Any) -> Any:
        """Create the encoder module; Flax is imported only now so plugin loading stays fast."""
        return _network_class()(in_channels, self.blocks, self.width, rngs=rngs)

    def state_dict_rename(self, fmt: str = "torchvision") -> tuple[tuple[str, str | None], ...]:
        """Regex pairs taking a ``fmt`` state dict's keys to this encoder's names (the names
        are torchvision's; the classifier ``fc`` is dropped)."""
        if fmt not in ("torchvision", "timm"):
            raise ValueError(f"{self.name}: unknown state dict format {fmt!r}; known: torchvision, timm")
        return ((r"^fc\.", None),)


@functools.cache
def _network_class() -> type:
    """Define the NNX modules on first use (keeps JAX/Flax out of plugin import)."""
    import jax
    from flax import nnx

    from mia_core.engine.layers import Conv2d, batch_norm, max_pool, scale_channels

    class BasicBlock(nnx.Module):
        """Two 3x3 conv/BN layers with an identity (or 1x1 projection) shortcut."""

        def __init__(self, cin: int, cout: int, stride: int, *, rngs: nnx.Rngs) -> None:
            self.conv1 = Conv2d(cin, cout, 3, stride, use_bias=False, padding=1, rngs=rngs)
            self.bn1 = batch_norm(cout, rngs)
            self.conv2 = Conv2d(cout, cout, 3, 1, use_bias=False, padding=1, rngs=rngs)
            self.bn2 = batch_norm(cout, rngs)
            if stride != 1 or cin != cout:
                self.downsample = nnx.List(
                    [Conv2d(cin, cout, 1, stride, use_bias=False, padding=0, rngs=rngs), batch_norm(cout, rngs)]
                )
            else:
                self.downsample = None

        def __call__(self, x: jax.Array) -> jax.Array:
            y = jax.nn.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            shortcut = x
            if self.downsample is not None:
                shortcut = self.downsample[1](self.downsample[0](x))
            return jax.nn.relu(y + shortcut)

    class ResNet(nnx.Module):
        """ResNet encoder returning ``{stride: feature map}`` for strides 2..32."""

        def __init__(
            self, in_channels: int, blocks: tuple[int, ...], width: float, *, rngs: nnx.Rngs
        ) -> None:
            stem = scale_channels(64, width)
            self.conv1 = Conv2d(in_channels, stem, 7, 2, use_bias=False, padding=3, rngs=rngs)
            self.bn1 = batch_norm(stem, rngs)
            cin = stem
            stages = []
            for index, (count, channels) in enumerate(zip(blocks, _STAGE_CHANNELS)):
                cout = scale_channels(channels, width)
                stride = 1 if index == 0 else 2
                stage = []
                for b in range(count):
                    stage.append(BasicBlock(cin, cout, stride if b == 0 else 1, rngs=rngs))
                    cin = cout
                stages.append(nnx.List(stage))
            self.layer1, self.layer2, self.layer3, self.layer4 = stages
            outs = [scale_channels(c, width) for c in _STAGE_CHANNELS]
            self.feature_channels = {2: stem, 4: outs[0], 8: outs[1], 16: outs[2], 32: outs[3]}

        def __call__(self, x: jax.Array) -> dict[int, jax.Array]:
            x = jax.nn.relu(self.bn1(self.conv1(x)))
            features = {2: x}
            x = max_pool(x, 3, 2, padding=1)
            for stride, stage in zip((4, 8, 16, 32), (self.layer1, self.layer2, self.layer3, self.layer4)):
                for block in stage:
                    x = block(x)
                features[stride] = x
            return features

    return ResNet


@hookimpl
def mia_backbones() -> list[ResNetBackbone]:
    """Register ResNet-18 and ResNet-34."""
    return [ResNetBackbone("resnet18", (2, 2, 2, 2)), ResNetBackbone("resnet34", (3, 4, 6, 3))]
