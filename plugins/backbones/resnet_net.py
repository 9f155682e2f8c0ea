"""The ResNet family's NNX modules: ResNet / ResNeXt (torchvision and timm names) and the SE-nets
(SE-ResNet, SE-ResNeXt, SENet-154, with timm's ``legacy_se*`` names, as Cadene's
pretrainedmodels). Imported only by ``resnet.build()`` so JAX stays out of plugin loading.

Every layer pads as PyTorch does, so converted weights give the reference's features.
"""

from __future__ import annotations

import jax
from flax import nnx

from mia_core.engine.layers import Conv2d, SqueezeExcitation, batch_norm, max_pool
from mia_plugins.backbones.resnet import ResNetBackbone as Spec
from mia_plugins.backbones.resnet import scaled as _scaled


def _conv(cin: int, cout: int, k: int, stride: int = 1, *, dilation: int = 1, groups: int = 1,
          rngs: nnx.Rngs, bias: bool = False) -> Conv2d:
    """A PyTorch-padded convolution (padding dilation * (k // 2))."""
    return Conv2d(cin, cout, k, stride, use_bias=bias, groups=groups, dilation=dilation,
                  padding=dilation * (k // 2), rngs=rngs)


def _downsample(cin: int, cout: int, k: int, stride: int, rngs: nnx.Rngs) -> nnx.List:
    """Projection shortcut: conv + BatchNorm (torchvision's ``downsample.0`` / ``downsample.1``)."""
    return nnx.List([_conv(cin, cout, k, stride, rngs=rngs), batch_norm(cout, rngs)])


def _shortcut(downsample: nnx.List | None, x: jax.Array) -> jax.Array:
    return x if downsample is None else downsample[1](downsample[0](x))


class BasicBlock(nnx.Module):
    """Two 3x3 conv/BN layers (in SE-ResNet-18/34 a ReLU and an SE gate before the sum)."""

    expansion = 1

    def __init__(self, cin: int, planes: int, stride: int, spec: Spec, dilation: int,
                 first_dilation: int, down_kernel: int, *, rngs: nnx.Rngs) -> None:
        cout = planes
        self.conv1 = _conv(cin, planes, 3, stride, dilation=first_dilation, rngs=rngs)
        self.bn1 = batch_norm(planes, rngs)
        self.conv2 = _conv(planes, cout, 3, dilation=dilation, rngs=rngs)
        self.bn2 = batch_norm(cout, rngs)
        self.se_module = SqueezeExcitation(cout, cout // 16, rngs=rngs) if spec.se else None
        needs_projection = stride != 1 or cin != cout
        self.downsample = _downsample(cin, cout, down_kernel, stride, rngs) if needs_projection else None

    def __call__(self, x: jax.Array) -> jax.Array:
        y = jax.nn.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        if self.se_module is not None:  # the SE-ResNet block (Cadene's) has a ReLU before its gate
            y = self.se_module(jax.nn.relu(y))
        shortcut = _shortcut(self.downsample, x)
        return jax.nn.relu(y + shortcut)


class Bottleneck(nnx.Module):
    """1x1 reduce -> 3x3 (grouped in ResNeXt) -> 1x1 expand, x4 channels (SE gate in SE-nets)."""

    expansion = 4

    def __init__(self, cin: int, planes: int, stride: int, spec: Spec, dilation: int,
                 first_dilation: int, down_kernel: int, *, rngs: nnx.Rngs) -> None:
        if spec.legacy == "senet154":
            inner, mid = planes * 2, planes * 4
        elif spec.legacy == "seresnet":
            inner = mid = planes
        else:  # ResNet, ResNeXt, SE-ResNeXt
            inner = mid = max(1, int(planes * spec.base_width / 64)) * spec.groups
        cout = planes * self.expansion
        first_stride = stride if spec.legacy == "seresnet" else 1  # Caffe-style SE-ResNet
        self.conv1 = _conv(cin, inner, 1, first_stride, rngs=rngs)
        self.bn1 = batch_norm(inner, rngs)
        self.conv2 = _conv(inner, mid, 3, stride // first_stride, dilation=first_dilation,
                           groups=spec.groups, rngs=rngs)
        self.bn2 = batch_norm(mid, rngs)
        self.conv3 = _conv(mid, cout, 1, rngs=rngs)
        self.bn3 = batch_norm(cout, rngs)
        self.se_module = SqueezeExcitation(cout, cout // 16, rngs=rngs) if spec.se else None
        needs_projection = stride != 1 or cin != cout
        self.downsample = _downsample(cin, cout, down_kernel, stride, rngs) if needs_projection else None

    def __call__(self, x: jax.Array) -> jax.Array:
        y = jax.nn.relu(self.bn1(self.conv1(x)))
        y = jax.nn.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        if self.se_module is not None:
            y = self.se_module(y)
        shortcut = _shortcut(self.downsample, x)
        return jax.nn.relu(y + shortcut)


class ResNet(nnx.Module):
    """A ResNet-family encoder returning ``{stride: feature map}`` for strides 2..32.

    Stride 2 is the stem (before the max-pool), 4..32 are ``layer1``..``layer4``. With
    ``output_stride=16`` the last stage keeps stride 16 and dilates its 3x3 convolutions by 2
    (its first block keeps dilation 1, as timm), and the map keeps its nominal key 32;
    ``output_stride=8`` does the same to the last two stages.
    """

    def __init__(self, in_channels: int, spec: Spec, output_stride: int = 32, *, rngs: nnx.Rngs) -> None:
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride}")
        block = Bottleneck if spec.bottleneck else BasicBlock
        w = spec.width
        self.legacy = spec.legacy
        if spec.legacy:
            stem = _scaled(128 if spec.legacy == "senet154" else 64, w)
            if spec.legacy == "senet154":
                half = _scaled(64, w)
                self.layer0 = nnx.Dict(
                    conv1=_conv(in_channels, half, 3, 2, rngs=rngs), bn1=batch_norm(half, rngs),
                    conv2=_conv(half, half, 3, rngs=rngs), bn2=batch_norm(half, rngs),
                    conv3=_conv(half, stem, 3, rngs=rngs), bn3=batch_norm(stem, rngs),
                )
            else:
                self.layer0 = nnx.Dict(conv1=_conv(in_channels, stem, 7, 2, rngs=rngs),
                                       bn1=batch_norm(stem, rngs))
        else:
            stem = _scaled(64, w)
            self.conv1 = _conv(in_channels, stem, 7, 2, rngs=rngs)
            self.bn1 = batch_norm(stem, rngs)
        cin = stem
        net_stride, dilation = 4, 1
        stages = []
        channels = {2: stem}
        for index, (count, planes) in enumerate(zip(spec.blocks, (64, 128, 256, 512))):
            planes = _scaled(planes, w)
            stride = 1 if index == 0 else 2
            previous = dilation
            if net_stride >= output_stride and stride == 2:
                dilation, stride = dilation * 2, 1
            else:
                net_stride *= stride
            # SENet-154 (and the other SE-nets' stages 2-4 per their configs) project with 3x3
            down_kernel = 3 if spec.legacy == "senet154" and index > 0 else 1
            stage = []
            for b in range(count):
                stage.append(block(cin, planes, stride if b == 0 else 1, spec, dilation,
                                   previous if b == 0 else dilation, down_kernel, rngs=rngs))
                cin = planes * block.expansion
            stages.append(nnx.List(stage))
            channels[4 * 2**index] = cin
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.feature_channels = channels

    def _stem(self, x: jax.Array) -> jax.Array:
        if not self.legacy:
            return jax.nn.relu(self.bn1(self.conv1(x)))
        n = 3 if self.legacy == "senet154" else 1
        for i in range(1, n + 1):
            x = jax.nn.relu(self.layer0[f"bn{i}"](self.layer0[f"conv{i}"](x)))
        return x

    def __call__(self, x: jax.Array) -> dict[int, jax.Array]:
        x = self._stem(x)
        features = {2: x}
        # torchvision pads the max-pool by 1; the SE-nets pool unpadded in ceil mode, which on
        # the even sizes used here is SAME padding
        x = max_pool(x, 3, 2, padding=None if self.legacy else 1)
        for stride, stage in zip((4, 8, 16, 32), (self.layer1, self.layer2, self.layer3, self.layer4)):
            for blk in stage:
                x = blk(x)
            features[stride] = x
        return features
