"""The PSPNet network of :mod:`mia_plugins.architectures.pspnet` (imported when a model is built)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from mia_core.engine.layers import Conv2d, ConvBNAct, adaptive_avg_pool, resize_bilinear


class PoolBranch(nnx.Module):
    """Average into ``bins`` x ``bins`` cells, 1x1 conv + ReLU (BatchNorm except for one bin, as
    smp: a 1x1 map has no spatial statistics), bilinear back to the input's size."""

    def __init__(self, cin: int, cout: int, bins: int, *, rngs: nnx.Rngs) -> None:
        self.bins = bins
        if bins == 1:
            self.conv = Conv2d(cin, cout, 1, use_bias=True, rngs=rngs)
        else:
            self.conv = ConvBNAct(cin, cout, 1, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        y = self.conv(adaptive_avg_pool(x, self.bins))
        if self.bins == 1:
            y = jax.nn.relu(y)
        return resize_bilinear(y, x.shape[1:3], align_corners=True)


class PSPNet(nnx.Module):
    """Encoder + pyramid pooling head mapping (B, H, W, C) images to (B, H, W, K) logits."""

    def __init__(
        self, encoder: nnx.Module, cin: int, bins: tuple[int, ...], out_channels: int, num_classes: int,
        size_multiple: int = 8, *, rngs: nnx.Rngs,
    ) -> None:
        self.encoder = encoder
        branch = max(cin // len(bins), 1)
        self.branches = nnx.List([PoolBranch(cin, branch, b, rngs=rngs) for b in bins])
        self.conv = ConvBNAct(cin + branch * len(bins), out_channels, 1, rngs=rngs)
        self.head = Conv2d(out_channels, num_classes, 3, rngs=rngs)
        self.size_multiple = size_multiple

    def __call__(self, x: jax.Array) -> jax.Array:
        h, w = x.shape[1:3]
        if h % self.size_multiple or w % self.size_multiple:
            raise ValueError(f"pspnet input height and width must be multiples of {self.size_multiple}, got {h}x{w}")
        f = self.encoder(x)[8]
        y = jnp.concatenate([branch(f) for branch in self.branches] + [f], axis=-1)
        return resize_bilinear(self.head(self.conv(y)), (h, w), align_corners=True).astype(jnp.float32)
