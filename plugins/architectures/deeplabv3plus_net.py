"""The DeepLabv3+ network of :mod:`mia_plugins.architectures.deeplabv3plus` (imported when a model is built)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from mia_core.engine.layers import Conv2d, ConvBNAct, SeparableConv2d, batch_norm, resize_bilinear


class SeparableBNReLU(nnx.Module):
    """Separable 3x3 convolution (optionally dilated), BatchNorm, ReLU."""

    def __init__(self, cin: int, cout: int, dilation: int = 1, *, rngs: nnx.Rngs) -> None:
        self.conv = SeparableConv2d(cin, cout, 3, dilation=dilation, rngs=rngs)
        self.bn = batch_norm(cout, rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return jax.nn.relu(self.bn(self.conv(x)))


class ASPP(nnx.Module):
    """Atrous spatial pyramid pooling: 1x1, three dilated separable 3x3, image pooling; projected."""

    def __init__(self, cin: int, cout: int, rates: tuple[int, ...], *, rngs: nnx.Rngs) -> None:
        self.branch1x1 = ConvBNAct(cin, cout, 1, rngs=rngs)
        self.atrous = nnx.List([SeparableBNReLU(cin, cout, r, rngs=rngs) for r in rates])
        self.pooling = ConvBNAct(cin, cout, 1, rngs=rngs)
        self.project = ConvBNAct(cout * (2 + len(rates)), cout, 1, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        pooled = self.pooling(jnp.mean(x, axis=(1, 2), keepdims=True))
        branches = [self.branch1x1(x)] + [a(x) for a in self.atrous] + [jnp.broadcast_to(pooled, x.shape[:3] + pooled.shape[3:])]
        return self.project(jnp.concatenate(branches, axis=-1))


class DeepLabV3Plus(nnx.Module):
    """Dilated encoder + DeepLabv3+ decoder mapping (B, H, W, C) images to (B, H, W, K) logits."""

    def __init__(
        self, encoder: nnx.Module, channels: dict[int, int], width: int, rates: tuple[int, ...], skip: int,
        num_classes: int, size_multiple: int = 16, *, rngs: nnx.Rngs,
    ) -> None:
        self.encoder = encoder
        self.aspp = ASPP(channels[32], width, rates, rngs=rngs)
        self.aspp_conv = SeparableBNReLU(width, width, rngs=rngs)
        self.skip = ConvBNAct(channels[4], skip, 1, rngs=rngs)
        self.fuse = SeparableBNReLU(width + skip, width, rngs=rngs)
        self.head = Conv2d(width, num_classes, 1, rngs=rngs)
        self.size_multiple = size_multiple

    def __call__(self, x: jax.Array) -> jax.Array:
        h, w = x.shape[1:3]
        if h % self.size_multiple or w % self.size_multiple:
            raise ValueError(
                f"deeplabv3plus input height and width must be multiples of {self.size_multiple}, got {h}x{w}"
            )
        f = self.encoder(x)  # key 32 holds the stride-16 map of the dilated encoder
        high = self.skip(f[4])
        y = resize_bilinear(self.aspp_conv(self.aspp(f[32])), high.shape[1:3], align_corners=True)
        y = self.fuse(jnp.concatenate([y, high], axis=-1))
        return resize_bilinear(self.head(y), (h, w), align_corners=True).astype(jnp.float32)
