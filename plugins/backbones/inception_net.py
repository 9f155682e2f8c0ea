"""Inception-v3 and Inception-ResNet-v2 NNX modules with timm's names (imported by
``inception.build()`` only, so JAX stays out of plugin loading).

``pad`` is the padding of the layers the published networks leave unpadded (their 3x3
convolutions and 3x3 max-pools): 1 gives maps of exactly input / stride, 0 timm's own sizes
(see :mod:`mia_plugins.backbones.inception`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from mia_core.engine.layers import Conv2d, ConvBNAct, avg_pool, max_pool

#: BatchNorm epsilon of the TensorFlow-trained Inceptions (timm's ``norm_eps``)
_EPS = 1e-3


def _unit(cin: int, cout: int, k: int | tuple[int, int] = 1, stride: int = 1,
          padding: int | tuple[int, int] = 0, *, rngs: nnx.Rngs) -> ConvBNAct:
    """timm's ``ConvNormAct``: conv (no bias), BatchNorm (eps 1e-3), ReLU; names ``conv``/``bn``."""
    return ConvBNAct(cin, cout, k, stride, padding=padding, epsilon=_EPS, rngs=rngs)


def _cat(*maps: jax.Array) -> jax.Array:
    return jnp.concatenate(maps, axis=-1)


def _run(units: nnx.List, x: jax.Array) -> jax.Array:
    """Apply a timm ``nn.Sequential`` branch (its pooling entries are None here, run by the caller)."""
    for unit in units:
        if unit is not None:
            x = unit(x)
    return x


# ------------------------------------------------------------------------------ Inception-v3


class InceptionA(nnx.Module):
    """35x35 block: 1x1, 5x5, double 3x3 and average-pool branches."""

    def __init__(self, cin: int, pool_features: int, *, rngs: nnx.Rngs) -> None:
        self.branch1x1 = _unit(cin, 64, rngs=rngs)
        self.branch5x5_1 = _unit(cin, 48, rngs=rngs)
        self.branch5x5_2 = _unit(48, 64, 5, padding=2, rngs=rngs)
        self.branch3x3dbl_1 = _unit(cin, 64, rngs=rngs)
        self.branch3x3dbl_2 = _unit(64, 96, 3, padding=1, rngs=rngs)
        self.branch3x3dbl_3 = _unit(96, 96, 3, padding=1, rngs=rngs)
        self.branch_pool = _unit(cin, pool_features, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(avg_pool(x, 3, 1, padding=1))
        return _cat(self.branch1x1(x), b5, b3, bp)


class InceptionB(nnx.Module):
    """Grid reduction 35 -> 17: strided 3x3, double 3x3 and max-pool branches."""

    def __init__(self, cin: int, pad: int, *, rngs: nnx.Rngs) -> None:
        self.branch3x3 = _unit(cin, 384, 3, 2, pad, rngs=rngs)
        self.branch3x3dbl_1 = _unit(cin, 64, rngs=rngs)
        self.branch3x3dbl_2 = _unit(64, 96, 3, padding=1, rngs=rngs)
        self.branch3x3dbl_3 = _unit(96, 96, 3, 2, pad, rngs=rngs)
        self.pad = pad

    def __call__(self, x: jax.Array) -> jax.Array:
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return _cat(self.branch3x3(x), b3, max_pool(x, 3, 2, padding=self.pad))


class InceptionC(nnx.Module):
    """17x17 block with factorised 1x7 / 7x1 convolutions."""

    def __init__(self, cin: int, c7: int, *, rngs: nnx.Rngs) -> None:
        row, col = dict(padding=(0, 3)), dict(padding=(3, 0))
        self.branch1x1 = _unit(cin, 192, rngs=rngs)
        self.branch7x7_1 = _unit(cin, c7, rngs=rngs)
        self.branch7x7_2 = _unit(c7, c7, (1, 7), **row, rngs=rngs)
        self.branch7x7_3 = _unit(c7, 192, (7, 1), **col, rngs=rngs)
        self.branch7x7dbl_1 = _unit(cin, c7, rngs=rngs)
        self.branch7x7dbl_2 = _unit(c7, c7, (7, 1), **col, rngs=rngs)
        self.branch7x7dbl_3 = _unit(c7, c7, (1, 7), **row, rngs=rngs)
        self.branch7x7dbl_4 = _unit(c7, c7, (7, 1), **col, rngs=rngs)
        self.branch7x7dbl_5 = _unit(c7, 192, (1, 7), **row, rngs=rngs)
        self.branch_pool = _unit(cin, 192, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for i in range(1, 6):
            d = getattr(self, f"branch7x7dbl_{i}")(d)
        bp = self.branch_pool(avg_pool(x, 3, 1, padding=1))
        return _cat(self.branch1x1(x), b7, d, bp)


class InceptionD(nnx.Module):
    """Grid reduction 17 -> 8: 3x3 and 7x7-then-3x3 strided branches and a max-pool."""

    def __init__(self, cin: int, pad: int, *, rngs: nnx.Rngs) -> None:
        self.branch3x3_1 = _unit(cin, 192, rngs=rngs)
        self.branch3x3_2 = _unit(192, 320, 3, 2, pad, rngs=rngs)
        self.branch7x7x3_1 = _unit(cin, 192, rngs=rngs)
        self.branch7x7x3_2 = _unit(192, 192, (1, 7), padding=(0, 3), rngs=rngs)
        self.branch7x7x3_3 = _unit(192, 192, (7, 1), padding=(3, 0), rngs=rngs)
        self.branch7x7x3_4 = _unit(192, 192, 3, 2, pad, rngs=rngs)
        self.pad = pad

    def __call__(self, x: jax.Array) -> jax.Array:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return _cat(b3, b7, max_pool(x, 3, 2, padding=self.pad))


class InceptionE(nnx.Module):
    """8x8 block with split 1x3 / 3x1 branches."""

    def __init__(self, cin: int, *, rngs: nnx.Rngs) -> None:
        self.branch1x1 = _unit(cin, 320, rngs=rngs)
        self.branch3x3_1 = _unit(cin, 384, rngs=rngs)
        self.branch3x3_2a = _unit(384, 384, (1, 3), padding=(0, 1), rngs=rngs)
        self.branch3x3_2b = _unit(384, 384, (3, 1), padding=(1, 0), rngs=rngs)
        self.branch3x3dbl_1 = _unit(cin, 448, rngs=rngs)
        self.branch3x3dbl_2 = _unit(448, 384, 3, padding=1, rngs=rngs)
        self.branch3x3dbl_3a = _unit(384, 384, (1, 3), padding=(0, 1), rngs=rngs)
        self.branch3x3dbl_3b = _unit(384, 384, (3, 1), padding=(1, 0), rngs=rngs)
        self.branch_pool = _unit(cin, 192, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        b3 = self.branch3x3_1(x)
        b3 = _cat(self.branch3x3_2a(b3), self.branch3x3_2b(b3))
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        d = _cat(self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d))
        bp = self.branch_pool(avg_pool(x, 3, 1, padding=1))
        return _cat(self.branch1x1(x), b3, d, bp)


class InceptionV3(nnx.Module):
    """Inception-v3 encoder returning ``{stride: feature map}`` for strides 2..32."""

    def __init__(self, in_channels: int, pad: int = 1, *, rngs: nnx.Rngs) -> None:
        self.pad = pad
        self.Conv2d_1a_3x3 = _unit(in_channels, 32, 3, 2, pad, rngs=rngs)
        self.Conv2d_2a_3x3 = _unit(32, 32, 3, 1, pad, rngs=rngs)
        self.Conv2d_2b_3x3 = _unit(32, 64, 3, 1, 1, rngs=rngs)
        self.Conv2d_3b_1x1 = _unit(64, 80, rngs=rngs)
        self.Conv2d_4a_3x3 = _unit(80, 192, 3, 1, pad, rngs=rngs)
        self.Mixed_5b = InceptionA(192, 32, rngs=rngs)
        self.Mixed_5c = InceptionA(256, 64, rngs=rngs)
        self.Mixed_5d = InceptionA(288, 64, rngs=rngs)
        self.Mixed_6a = InceptionB(288, pad, rngs=rngs)
        self.Mixed_6b = InceptionC(768, 128, rngs=rngs)
        self.Mixed_6c = InceptionC(768, 160, rngs=rngs)
        self.Mixed_6d = InceptionC(768, 160, rngs=rngs)
        self.Mixed_6e = InceptionC(768, 192, rngs=rngs)
        self.Mixed_7a = InceptionD(768, pad, rngs=rngs)
        self.Mixed_7b = InceptionE(1280, rngs=rngs)
        self.Mixed_7c = InceptionE(2048, rngs=rngs)
        self.feature_channels = {2: 64, 4: 192, 8: 288, 16: 768, 32: 2048}

    def __call__(self, x: jax.Array) -> dict[int, jax.Array]:
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        out = {2: x}
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(max_pool(x, 3, 2, padding=self.pad)))
        out[4] = x
        x = max_pool(x, 3, 2, padding=self.pad)
        for stride, names in ((8, "5b 5c 5d"), (16, "6a 6b 6c 6d 6e"), (32, "7a 7b 7c")):
            for name in names.split():
                x = getattr(self, f"Mixed_{name}")(x)
            out[stride] = x
        return out


# ----------------------------------------------------------------------- Inception-ResNet-v2


class Mixed5b(nnx.Module):
    """Stem end: 1x1, 5x5, double 3x3 and average-pool (padding not counted) branches."""

    def __init__(self, *, rngs: nnx.Rngs) -> None:
        self.branch0 = _unit(192, 96, rngs=rngs)
        self.branch1 = nnx.List([_unit(192, 48, rngs=rngs), _unit(48, 64, 5, padding=2, rngs=rngs)])
        self.branch2 = nnx.List([_unit(192, 64, rngs=rngs), _unit(64, 96, 3, padding=1, rngs=rngs),
                                 _unit(96, 96, 3, padding=1, rngs=rngs)])
        self.branch3 = nnx.List([None, _unit(192, 64, rngs=rngs)])  # [0] is timm's AvgPool2d

    def __call__(self, x: jax.Array) -> jax.Array:
        pooled = avg_pool(x, 3, 1, padding=1, count_include_pad=False)
        return _cat(self.branch0(x), _run(self.branch1, x), _run(self.branch2, x), _run(self.branch3, pooled))


class ResidualInception(nnx.Module):
    """Block35 / Block17 / Block8: branches concatenated, a biased 1x1 ``conv2d`` back to the
    input's channels, scaled and added to the input, then ReLU (none in the last Block8)."""

    def __init__(self, channels: int, branches: list[list[tuple]], scale: float, relu: bool = True, *,
                 rngs: nnx.Rngs) -> None:
        made = []
        for branch in branches:
            units, cin = [], channels
            for cout, k, padding in branch:
                units.append(_unit(cin, cout, k, padding=padding, rngs=rngs))
                cin = cout
            made.append(units)
        self.branch0 = made[0][0]
        for index, units in enumerate(made[1:], start=1):
            setattr(self, f"branch{index}", nnx.List(units))
        self.branches = len(made)
        width = sum(units[-1].conv.out_features for units in made)
        self.conv2d = Conv2d(width, channels, 1, padding=0, rngs=rngs)
        self.scale, self.relu = scale, relu

    def __call__(self, x: jax.Array) -> jax.Array:
        maps = [self.branch0(x)] + [_run(getattr(self, f"branch{i}"), x) for i in range(1, self.branches)]
        y = self.conv2d(_cat(*maps)) * self.scale + x
        return jax.nn.relu(y) if self.relu else y


#: Branches (output channels, kernel, padding per unit) of the three residual blocks
_BLOCK35 = [[(32, 1, 0)], [(32, 1, 0), (32, 3, 1)], [(32, 1, 0), (48, 3, 1), (64, 3, 1)]]
_BLOCK17 = [[(192, 1, 0)], [(128, 1, 0), (160, (1, 7), (0, 3)), (192, (7, 1), (3, 0))]]
_BLOCK8 = [[(192, 1, 0)], [(192, 1, 0), (224, (1, 3), (0, 1)), (256, (3, 1), (1, 0))]]


class Mixed6a(nnx.Module):
    """Reduction 35 -> 17: strided 3x3, 1x1-3x3-strided 3x3, max-pool."""

    def __init__(self, pad: int, *, rngs: nnx.Rngs) -> None:
        self.branch0 = _unit(320, 384, 3, 2, pad, rngs=rngs)
        self.branch1 = nnx.List([_unit(320, 256, rngs=rngs), _unit(256, 256, 3, padding=1, rngs=rngs),
                                 _unit(256, 384, 3, 2, pad, rngs=rngs)])
        self.pad = pad

    def __call__(self, x: jax.Array) -> jax.Array:
        return _cat(self.branch0(x), _run(self.branch1, x), max_pool(x, 3, 2, padding=self.pad))


class Mixed7a(nnx.Module):
    """Reduction 17 -> 8: three strided-3x3 branches and a max-pool."""

    def __init__(self, pad: int, *, rngs: nnx.Rngs) -> None:
        self.branch0 = nnx.List([_unit(1088, 256, rngs=rngs), _unit(256, 384, 3, 2, pad, rngs=rngs)])
        self.branch1 = nnx.List([_unit(1088, 256, rngs=rngs), _unit(256, 288, 3, 2, pad, rngs=rngs)])
        self.branch2 = nnx.List([_unit(1088, 256, rngs=rngs), _unit(256, 288, 3, padding=1, rngs=rngs),
                                 _unit(288, 320, 3, 2, pad, rngs=rngs)])
        self.pad = pad

    def __call__(self, x: jax.Array) -> jax.Array:
        maps = [_run(b, x) for b in (self.branch0, self.branch1, self.branch2)]
        return _cat(*maps, max_pool(x, 3, 2, padding=self.pad))


class InceptionResNetV2(nnx.Module):
    """Inception-ResNet-v2 encoder returning ``{stride: feature map}`` for strides 2..32."""

    def __init__(self, in_channels: int, pad: int = 1, *, rngs: nnx.Rngs) -> None:
        self.pad = pad
        self.conv2d_1a = _unit(in_channels, 32, 3, 2, pad, rngs=rngs)
        self.conv2d_2a = _unit(32, 32, 3, 1, pad, rngs=rngs)
        self.conv2d_2b = _unit(32, 64, 3, 1, 1, rngs=rngs)
        self.conv2d_3b = _unit(64, 80, rngs=rngs)
        self.conv2d_4a = _unit(80, 192, 3, 1, pad, rngs=rngs)
        self.mixed_5b = Mixed5b(rngs=rngs)
        self.repeat = nnx.List([ResidualInception(320, _BLOCK35, 0.17, rngs=rngs) for _ in range(10)])
        self.mixed_6a = Mixed6a(pad, rngs=rngs)
        self.repeat_1 = nnx.List([ResidualInception(1088, _BLOCK17, 0.10, rngs=rngs) for _ in range(20)])
        self.mixed_7a = Mixed7a(pad, rngs=rngs)
        self.repeat_2 = nnx.List([ResidualInception(2080, _BLOCK8, 0.20, rngs=rngs) for _ in range(9)])
        self.block8 = ResidualInception(2080, _BLOCK8, 1.0, relu=False, rngs=rngs)
        self.conv2d_7b = _unit(2080, 1536, rngs=rngs)
        self.feature_channels = {2: 64, 4: 192, 8: 320, 16: 1088, 32: 1536}

    def __call__(self, x: jax.Array) -> dict[int, jax.Array]:
        x = self.conv2d_2b(self.conv2d_2a(self.conv2d_1a(x)))
        out = {2: x}
        x = self.conv2d_4a(self.conv2d_3b(max_pool(x, 3, 2, padding=self.pad)))
        out[4] = x
        x = self.mixed_5b(max_pool(x, 3, 2, padding=self.pad))
        out[8] = x = _run(self.repeat, x)
        out[16] = x = _run(self.repeat_1, self.mixed_6a(x))
        x = self.block8(_run(self.repeat_2, self.mixed_7a(x)))
        out[32] = self.conv2d_7b(x)
        return out
