"""The light decoder's Flax module (imported only when a model is built)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from mia_core.engine.layers import Conv2d, ConvBNAct, resize_bilinear

STRIDES = (4, 8, 16, 32)


class LightSeg(nnx.Module):
    """Encoder + light decoder mapping (B, H, W, C) images to (B, H, W, K) logits."""

    def __init__(self, encoder: nnx.Module, channels: dict[int, int], width: int, num_classes: int,
                 *, rngs: nnx.Rngs) -> None:
        self.encoder = encoder
        self.lateral = nnx.List([Conv2d(channels[s], width, 1, rngs=rngs) for s in STRIDES])
        self.fuse = ConvBNAct(width, width, 3, rngs=rngs)
        self.head = Conv2d(width, num_classes, 1, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        features = self.encoder(x)
        size = features[4].shape[1:3]
        y = sum(resize_bilinear(conv(features[s]), size) for conv, s in zip(self.lateral, STRIDES))
        return resize_bilinear(self.head(self.fuse(y)), x.shape[1:3]).astype(jnp.float32)
