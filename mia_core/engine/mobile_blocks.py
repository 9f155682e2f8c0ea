"""Depthwise-separable and inverted-residual networks with timm's layout and names
(``conv_stem``, ``bn1``, ``blocks.i.j.conv_dw`` ...), shared by the EfficientNet and MobileNetV1
backbone plugins (imported by their ``build()`` only, so JAX stays out of plugin loading).
"""

from __future__ import annotations

import jax
from flax import nnx

from mia_core.engine.layers import Conv2d, SqueezeExcitation, activation_fn, batch_norm


def _conv(cin: int, cout: int, k: int, stride: int, padding: int | None, *, groups: int = 1,
          dilation: int = 1, rngs: nnx.Rngs) -> Conv2d:
    """No-bias convolution; ``padding`` None = TensorFlow SAME (the tf_* ports), else
    ``dilation * (k // 2)`` on each side as PyTorch."""
    pad = None if padding is None else dilation * (k // 2)
    return Conv2d(cin, cout, k, stride, use_bias=False, groups=groups, dilation=dilation,
                  padding=pad, rngs=rngs)


class DepthwiseSeparable(nnx.Module):
    """Depthwise kxk -> BN/act -> (SE) -> pointwise 1x1 -> BN (activation in MobileNetV1);
    residual when stride 1 and channels match (EfficientNet's first stage)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, se_channels: int, act: str,
                 pw_act: bool, residual: bool, padding: int | None, dilation: int, eps: float, *,
                 rngs: nnx.Rngs) -> None:
        self.conv_dw = _conv(cin, cin, k, stride, padding, groups=cin, dilation=dilation, rngs=rngs)
        self.bn1 = batch_norm(cin, rngs, epsilon=eps)
        self.se = SqueezeExcitation(cin, se_channels, activation=act, rngs=rngs) if se_channels else None
        self.conv_pw = _conv(cin, cout, 1, 1, padding, rngs=rngs)
        self.bn2 = batch_norm(cout, rngs, epsilon=eps)
        self.act, self.pw_act = act, pw_act
        self.residual = residual and stride == 1 and cin == cout

    def __call__(self, x: jax.Array) -> jax.Array:
        act = activation_fn(self.act)
        y = act(self.bn1(self.conv_dw(x)))
        if self.se is not None:
            y = self.se(y)
        y = self.bn2(self.conv_pw(y))
        if self.pw_act:
            y = act(y)
        return x + y if self.residual else y


class InvertedResidual(nnx.Module):
    """1x1 expand -> BN/act -> depthwise kxk -> BN/act -> (SE) -> 1x1 project -> BN, residual
    when stride 1 and channels match (MobileNetV2 / EfficientNet MBConv)."""

    def __init__(self, cin: int, cout: int, k: int, stride: int, expand: int, se_channels: int,
                 act: str, padding: int | None, dilation: int, eps: float, *, rngs: nnx.Rngs) -> None:
        mid = cin * expand
        self.conv_pw = _conv(cin, mid, 1, 1, padding, rngs=rngs)
        self.bn1 = batch_norm(mid, rngs, epsilon=eps)
        self.conv_dw = _conv(mid, mid, k, stride, padding, groups=mid, dilation=dilation, rngs=rngs)
        self.bn2 = batch_norm(mid, rngs, epsilon=eps)
        self.se = SqueezeExcitation(mid, se_channels, activation=act, rngs=rngs) if se_channels else None
        self.conv_pwl = _conv(mid, cout, 1, 1, padding, rngs=rngs)
        self.bn3 = batch_norm(cout, rngs, epsilon=eps)
        self.act = act
        self.residual = stride == 1 and cin == cout

    def __call__(self, x: jax.Array) -> jax.Array:
        act = activation_fn(self.act)
        y = act(self.bn1(self.conv_pw(x)))
        y = act(self.bn2(self.conv_dw(y)))
        if self.se is not None:
            y = self.se(y)
        y = self.bn3(self.conv_pwl(y))
        return x + y if self.residual else y


class Net(nnx.Module):
    """Stem conv/BN/act and stages of blocks; returns the maps of the stages in ``taps``
    (``{stage index: stride}``) keyed by their nominal stride.

    ``stages``: per stage a list of block specs ``(kind, k, stride, expand, cout, se_channels)``
    with kind "ds" or "ir" (the registration modules compute them from the papers' tables).
    With ``output_stride`` below 32 the strides past it become dilations (the first block of a
    dilated stage keeps the previous dilation, as timm), and the maps keep their nominal keys.
    """

    def __init__(self, in_channels: int, stem: int, stages: list[list[tuple]], taps: dict[int, int],
                 act: str, padding: int | None, pw_act: bool, output_stride: int,
                 eps: float = 1e-5, *, rngs: nnx.Rngs) -> None:
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride}")
        self.conv_stem = _conv(in_channels, stem, 3, 2, padding, rngs=rngs)
        self.bn1 = batch_norm(stem, rngs, epsilon=eps)
        self.act = act
        self.taps = dict(taps)
        cin, net_stride, dilation = stem, 2, 1
        blocks = []
        for stage in stages:
            layer = []
            for kind, k, stride, expand, cout, se in stage:
                block_dilation = dilation  # a stride turned into dilation applies from the next block
                if stride > 1 and net_stride >= output_stride:
                    dilation, stride = dilation * stride, 1
                else:
                    net_stride *= stride
                if kind == "ds":
                    layer.append(DepthwiseSeparable(cin, cout, k, stride, se, act, pw_act, not pw_act,
                                                    padding, block_dilation, eps, rngs=rngs))
                else:
                    layer.append(InvertedResidual(cin, cout, k, stride, expand, se, act, padding,
                                                  block_dilation, eps, rngs=rngs))
                cin = cout
            blocks.append(nnx.List(layer))
        self.blocks = nnx.List(blocks)
        self.feature_channels = {s: stages[i][-1][4] for i, s in self.taps.items()}

    def __call__(self, x: jax.Array) -> dict[int, jax.Array]:
        x = activation_fn(self.act)(self.bn1(self.conv_stem(x)))
        out = {}
        for index, stage in enumerate(self.blocks):
            for block in stage:
                x = block(x)
            if index in self.taps:
                out[self.taps[index]] = x
        return out
