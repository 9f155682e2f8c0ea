"""The DenseNet network module (imported by ``densenet.build()`` only)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from mia_core.engine.layers import Conv2d, avg_pool, batch_norm, max_pool

#: Bottleneck width of each dense layer, in multiples of the growth rate (the paper's 4k)
_BN_SIZE = 4


class DenseLayer(nnx.Module):
    """BN-ReLU-1x1 conv (4k) -> BN-ReLU-3x3 conv (k); its output is concatenated to its input."""

    def __init__(self, cin: int, growth: int, *, rngs: nnx.Rngs) -> None:
        self.norm1 = batch_norm(cin, rngs)
        self.conv1 = Conv2d(cin, _BN_SIZE * growth, 1, use_bias=False, padding=0, rngs=rngs)
        self.norm2 = batch_norm(_BN_SIZE * growth, rngs)
        self.conv2 = Conv2d(_BN_SIZE * growth, growth, 3, use_bias=False, padding=1, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        y = self.conv1(jax.nn.relu(self.norm1(x)))
        y = self.conv2(jax.nn.relu(self.norm2(y)))
        return jnp.concatenate([x, y], axis=-1)


class Transition(nnx.Module):
    """BN-ReLU-1x1 conv halving the channels, then 2x2 average pooling."""

    def __init__(self, cin: int, cout: int, *, rngs: nnx.Rngs) -> None:
        self.norm = batch_norm(cin, rngs)
        self.conv = Conv2d(cin, cout, 1, use_bias=False, padding=0, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return avg_pool(self.conv(jax.nn.relu(self.norm(x))), 2, 2)


class DenseNet(nnx.Module):
    """DenseNet encoder returning ``{stride: feature map}`` for strides 2..32."""

    def __init__(self, in_channels: int, blocks: tuple[int, ...], growth: int, stem: int, *,
                 rngs: nnx.Rngs) -> None:
        layers: dict[str, nnx.Module] = {
            "conv0": Conv2d(in_channels, stem, 7, 2, use_bias=False, padding=3, rngs=rngs),
            "norm0": batch_norm(stem, rngs),
        }
        c = stem
        self.feature_channels = {2: stem}
        for index, count in enumerate(blocks, start=1):
            block = {}
            for i in range(1, count + 1):
                block[f"denselayer{i}"] = DenseLayer(c, growth, rngs=rngs)
                c += growth
            layers[f"denseblock{index}"] = nnx.Dict(block)
            self.feature_channels[2 ** (index + 1)] = c
            if index < len(blocks):
                layers[f"transition{index}"] = Transition(c, c // 2, rngs=rngs)
                c //= 2
        layers["norm5"] = batch_norm(c, rngs)
        self.features = nnx.Dict(layers)
        self.num_blocks = len(blocks)

    def __call__(self, x: jax.Array) -> dict[int, jax.Array]:
        f = self.features
        x = jax.nn.relu(f["norm0"](f["conv0"](x)))
        out = {2: x}
        x = max_pool(x, 3, 2, padding=1)
        for index in range(1, self.num_blocks + 1):
            block = f[f"denseblock{index}"]
            for i in range(1, len(block) + 1):
                x = block[f"denselayer{i}"](x)
            if index < self.num_blocks:
                out[2 ** (index + 1)] = x
                x = f[f"transition{index}"](x)
        out[32] = jax.nn.relu(f["norm5"](x))
        return out
