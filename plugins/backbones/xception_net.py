"""The Xception NNX module with timm's ``legacy_xception`` names (imported by
``xception.build()`` only, so JAX stays out of plugin loading). ``pad`` is the stem
convolutions' padding: 1 gives maps of exactly input / stride, 0 timm's own sizes.
"""

from __future__ import annotations

import jax
from flax import nnx

from mia_core.engine.layers import Conv2d, SeparableConv2d, batch_norm, max_pool


class Block(nnx.Module):
    """``reps`` x (ReLU, separable 3x3, BatchNorm), then a 3x3 max-pool when strided, plus the
    input (through a strided 1x1 ``skip`` + ``skipbn`` when the shape changes). ``rep`` keeps
    timm's ``nn.Sequential`` indices; the ReLU and pool entries hold None."""

    def __init__(self, cin: int, cout: int, reps: int, stride: int = 1, start_with_relu: bool = True,
                 grow_first: bool = True, *, rngs: nnx.Rngs) -> None:
        if cout != cin or stride != 1:
            self.skip = Conv2d(cin, cout, 1, stride, use_bias=False, padding=0, rngs=rngs)
            self.skipbn = batch_norm(cout, rngs)
        else:
            self.skip = self.skipbn = None
        rep: list = []
        for i in range(reps):
            if grow_first:
                inc, outc = (cin if i == 0 else cout), cout
            else:
                inc, outc = cin, (cin if i < reps - 1 else cout)
            rep += [None, SeparableConv2d(inc, outc, 3, rngs=rngs), batch_norm(outc, rngs)]
        if not start_with_relu:
            rep = rep[1:]
        self.rep = nnx.List(rep)
        self.start_with_relu, self.stride = start_with_relu, stride

    def __call__(self, x: jax.Array) -> jax.Array:
        y = x
        for layer in self.rep:
            y = jax.nn.relu(y) if layer is None else layer(y)
        if self.stride != 1:
            y = max_pool(y, 3, self.stride, padding=1)
        skip = x if self.skip is None else self.skipbn(self.skip(x))
        return y + skip


#: (in, out, reps, stride, start_with_relu, grow_first) of blocks 1..12
_BLOCKS = ((64, 128, 2, 2, False, True), (128, 256, 2, 2, True, True), (256, 728, 2, 2, True, True),
           *[(728, 728, 3, 1, True, True)] * 8, (728, 1024, 2, 2, True, False))


class Xception(nnx.Module):
    """Xception encoder returning ``{stride: feature map}`` for strides 2..32."""

    def __init__(self, in_channels: int, pad: int = 1, *, rngs: nnx.Rngs) -> None:
        self.conv1 = Conv2d(in_channels, 32, 3, 2, use_bias=False, padding=pad, rngs=rngs)
        self.bn1 = batch_norm(32, rngs)
        self.conv2 = Conv2d(32, 64, 3, use_bias=False, padding=pad, rngs=rngs)
        self.bn2 = batch_norm(64, rngs)
        for index, (cin, cout, reps, stride, relu_first, grow_first) in enumerate(_BLOCKS, start=1):
            setattr(self, f"block{index}", Block(cin, cout, reps, stride, relu_first, grow_first, rngs=rngs))
        self.conv3 = SeparableConv2d(1024, 1536, 3, rngs=rngs)
        self.bn3 = batch_norm(1536, rngs)
        self.conv4 = SeparableConv2d(1536, 2048, 3, rngs=rngs)
        self.bn4 = batch_norm(2048, rngs)
        self.feature_channels = {2: 64, 4: 128, 8: 256, 16: 728, 32: 2048}

    def __call__(self, x: jax.Array) -> dict[int, jax.Array]:
        x = jax.nn.relu(self.bn1(self.conv1(x)))
        x = jax.nn.relu(self.bn2(self.conv2(x)))
        out = {2: x}
        for index in range(1, len(_BLOCKS) + 1):
            x = getattr(self, f"block{index}")(x)
            if index in (1, 2, 11):  # timm taps the ReLU that opens the next block
                out[{1: 4, 2: 8, 11: 16}[index]] = jax.nn.relu(x)
        x = jax.nn.relu(self.bn3(self.conv3(x)))
        out[32] = jax.nn.relu(self.bn4(self.conv4(x)))
        return out
