"""The VGG network module (imported by ``vgg.build()`` only, so JAX stays out of plugin loading)."""

from __future__ import annotations

import jax
from flax import nnx

from mia_core.engine.layers import Conv2d, batch_norm, max_pool


class VGG(nnx.Module):
    """Five blocks of 3x3 conv (+ BatchNorm) + ReLU separated by 2x2 max-pools; returns
    ``{stride: feature map}``. ``features`` is keyed by torchvision's ``nn.Sequential`` indices
    (ReLU and max-pool entries hold no weights, so their indices are absent)."""

    def __init__(self, in_channels: int, depths: tuple[int, ...], channels: tuple[int, ...],
                 bn: bool, *, rngs: nnx.Rngs) -> None:
        layers: dict[str, nnx.Module] = {}
        plan: list[tuple[str, str]] = []  # (kind, key): conv / bn / relu / pool
        index, cin = 0, in_channels
        for depth, cout in zip(depths, channels):
            for _ in range(depth):
                layers[str(index)] = Conv2d(cin, cout, 3, 1, padding=1, rngs=rngs)
                plan.append(("conv", str(index)))
                index += 1
                if bn:
                    layers[str(index)] = batch_norm(cout, rngs)
                    plan.append(("bn", str(index)))
                    index += 1
                plan.append(("relu", ""))
                index += 1
                cin = cout
            plan.append(("pool", ""))
            index += 1
        self.features = nnx.Dict(layers)
        self.plan = tuple(plan)
        self.feature_channels = {2: channels[1], 4: channels[2], 8: channels[3], 16: channels[4],
                                 32: channels[4]}

    def __call__(self, x: jax.Array) -> dict[int, jax.Array]:
        out, pools = {}, 0
        for kind, key in self.plan:
            if kind == "pool":
                if pools:  # the map before each pool from block 2 on is a feature (stride 2..16)
                    out[2**pools] = x
                x = max_pool(x, 2, 2)
                pools += 1
            elif kind == "relu":
                x = jax.nn.relu(x)
            else:
                x = self.features[key](x)
        out[32] = x
        return out
