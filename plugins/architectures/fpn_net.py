"""The FPN network of :mod:`mia_plugins.architectures.fpn` (imported when a model is built)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from mia_core.engine.layers import Conv2d, group_norm, resize_bilinear, upsample_nearest


class SegmentationBlock(nnx.Module):
    """``max(ups, 1)`` times: 3x3 conv, GroupNorm(32), ReLU, then bilinear 2x when ``ups`` > 0."""

    def __init__(self, cin: int, cout: int, ups: int, *, rngs: nnx.Rngs) -> None:
        count = max(ups, 1)
        self.convs = nnx.List([Conv2d(cin if i == 0 else cout, cout, 3, use_bias=False, rngs=rngs)
                               for i in range(count)])
        self.norms = nnx.List([group_norm(cout, 32, rngs) for _ in range(count)])
        self.upsample = ups > 0

    def __call__(self, x: jax.Array) -> jax.Array:
        for conv, norm in zip(self.convs, self.norms):
            x = jax.nn.relu(norm(conv(x)))
            if self.upsample:
                x = resize_bilinear(x, (2 * x.shape[1], 2 * x.shape[2]), align_corners=True)
        return x


class FPN(nnx.Module):
    """Encoder + FPN decoder mapping (B, H, W, C) images to (B, H, W, K) logits."""

    def __init__(
        self, encoder: nnx.Module, channels: dict[int, int], pyramid: int, segmentation: int,
        num_classes: int, size_multiple: int = 32, *, rngs: nnx.Rngs,
    ) -> None:
        self.encoder = encoder
        self.p5 = Conv2d(channels[32], pyramid, 1, rngs=rngs)
        self.p4 = Conv2d(channels[16], pyramid, 1, rngs=rngs)
        self.p3 = Conv2d(channels[8], pyramid, 1, rngs=rngs)
        self.p2 = Conv2d(channels[4], pyramid, 1, rngs=rngs)
        self.seg_blocks = nnx.List([SegmentationBlock(pyramid, segmentation, ups, rngs=rngs) for ups in (3, 2, 1, 0)])
        self.head = Conv2d(segmentation, num_classes, 1, rngs=rngs)
        self.size_multiple = size_multiple

    def __call__(self, x: jax.Array) -> jax.Array:
        h, w = x.shape[1:3]
        if h % self.size_multiple or w % self.size_multiple:
            raise ValueError(f"fpn input height and width must be multiples of {self.size_multiple}, got {h}x{w}")
        f = self.encoder(x)
        p5 = self.p5(f[32])
        p4 = upsample_nearest(p5, 2) + self.p4(f[16])
        p3 = upsample_nearest(p4, 2) + self.p3(f[8])
        p2 = upsample_nearest(p3, 2) + self.p2(f[4])
        merged = sum(block(p) for block, p in zip(self.seg_blocks, (p5, p4, p3, p2)))
        return resize_bilinear(self.head(merged), (h, w), align_corners=True).astype(jnp.float32)
