"""The ResNet network of :mod:`mia_plugins.backbones.resnet` (imported when a model is built).

Attribute names follow torchvision (``conv1``, ``bn1``, ``layer1[0].conv1``, ``downsample``) so
that a torchvision-format weights file maps onto the parameters one to one.
"""

from __future__ import annotations

import jax
from flax import nnx

from mia_core.engine.geometry import dilated_strides, scale_channels
from mia_core.engine.layers import Conv2d, batch_norm, max_pool

STAGE_CHANNELS = (64, 128, 256, 512)


class BasicBlock(nnx.Module):
    """Two 3x3 conv/BN layers with an identity (or 1x1 projection) shortcut."""

    def __init__(self, cin: int, cout: int, stride: int, dilation: int = 1, *, rngs: nnx.Rngs) -> None:
        self.conv1 = Conv2d(cin, cout, 3, stride, use_bias=False, dilation=dilation, rngs=rngs)
        self.bn1 = batch_norm(cout, rngs)
        self.conv2 = Conv2d(cout, cout, 3, 1, use_bias=False, dilation=dilation, rngs=rngs)
        self.bn2 = batch_norm(cout, rngs)
        if stride != 1 or cin != cout:
            self.downsample = nnx.List(
                [Conv2d(cin, cout, 1, stride, use_bias=False, rngs=rngs), batch_norm(cout, rngs)]
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
    """ResNet encoder returning ``{stride: feature map}`` for strides 2..32; at ``output_stride``
    16 or 8 the last stages are dilated and keep the keys of their nominal strides."""

    def __init__(
        self, in_channels: int, blocks: tuple[int, ...], width: float, output_stride: int = 32,
        *, rngs: nnx.Rngs,
    ) -> None:
        stem = scale_channels(64, width)
        self.conv1 = Conv2d(in_channels, stem, 7, 2, use_bias=False, rngs=rngs)
        self.bn1 = batch_norm(stem, rngs)
        # stem conv, max-pool, then the first block of each stage
        plan = dilated_strides((2, 2, 1, 2, 2, 2), output_stride)[2:]
        cin = stem
        stages = []
        for count, channels, (stride, dilation) in zip(blocks, STAGE_CHANNELS, plan):
            cout = scale_channels(channels, width)
            stage = []
            for b in range(count):
                stage.append(BasicBlock(cin, cout, stride if b == 0 else 1, dilation, rngs=rngs))
                cin = cout
            stages.append(nnx.List(stage))
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        outs = [scale_channels(c, width) for c in STAGE_CHANNELS]
        self.feature_channels = {2: stem, 4: outs[0], 8: outs[1], 16: outs[2], 32: outs[3]}

    def __call__(self, x: jax.Array) -> dict[int, jax.Array]:
        x = jax.nn.relu(self.bn1(self.conv1(x)))
        features = {2: x}
        x = max_pool(x, 3, 2)
        for stride, stage in zip((4, 8, 16, 32), (self.layer1, self.layer2, self.layer3, self.layer4)):
            for block in stage:
                x = block(x)
            features[stride] = x
        return features
