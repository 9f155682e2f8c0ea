"""The LinkNet network of :mod:`mia_plugins.architectures.linknet` (imported when a model is built)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from mia_core.engine.layers import Conv2d, ConvBNAct, ConvTranspose2d, batch_norm

_SKIPS = (16, 8, 4, 2, None)


class DecoderBlock(nnx.Module):
    """1x1 conv (cin -> cin/4), transposed 4x4 stride-2 conv, 1x1 conv (-> cout), BN + ReLU each."""

    def __init__(self, cin: int, cout: int, *, rngs: nnx.Rngs) -> None:
        mid = max(cin // 4, 1)
        self.reduce = ConvBNAct(cin, mid, 1, rngs=rngs)
        self.up = ConvTranspose2d(mid, mid, 4, stride=2, padding=1, rngs=rngs)
        self.up_bn = batch_norm(mid, rngs)
        self.expand = ConvBNAct(mid, cout, 1, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.expand(jax.nn.relu(self.up_bn(self.up(self.reduce(x)))))


class LinkNet(nnx.Module):
    """Encoder + LinkNet decoder mapping (B, H, W, C) images to (B, H, W, K) logits."""

    def __init__(
        self, encoder: nnx.Module, channels: dict[int, int], prefinal: int, num_classes: int,
        size_multiple: int = 32, *, rngs: nnx.Rngs,
    ) -> None:
        self.encoder = encoder
        widths = [channels[32]] + [channels[s] for s in _SKIPS[:-1]] + [prefinal]
        self.blocks = nnx.List([DecoderBlock(widths[i], widths[i + 1], rngs=rngs) for i in range(5)])
        self.head = Conv2d(prefinal, num_classes, 1, rngs=rngs)
        self.size_multiple = size_multiple

    def __call__(self, x: jax.Array) -> jax.Array:
        h, w = x.shape[1:3]
        if h % self.size_multiple or w % self.size_multiple:
            raise ValueError(f"linknet input height and width must be multiples of {self.size_multiple}, got {h}x{w}")
        f = self.encoder(x)
        y = f[32]
        for block, skip in zip(self.blocks, _SKIPS):
            y = block(y)
            if skip is not None:
                y = y + f[skip]
        return self.head(y).astype(jnp.float32)
