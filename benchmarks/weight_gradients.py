"""Alternative convolution kernel-gradient formulations, measured by ``bench_train.py --weight-grad``.

Production uses XLA's own kernel gradient (with the Eigen convolutions of ``steps.XLA_CPU_OPTIONS``
it measured fastest, benchmarks/README.md); these candidates stay here so the comparison can be
rerun. :func:`install` puts one into ``mia_core.engine.layers.WEIGHT_GRADIENT``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from mia_core.engine import layers
from mia_core.engine.layers import same_padding

METHODS = ("xla", "auto", "blocked", "taps")
# im2col columns per block; a block's columns stay in cache (see benchmarks/README.md)
_BLOCK_PIXELS = 512
# "auto" uses blocks only where they measured faster than XLA: at least this many output
# channels and output pixels per image (narrow or tiny layers stay with XLA)
_MIN_BLOCKED_OUT_CHANNELS = 64
_MIN_BLOCKED_OUT_PIXELS = 1024


def _shifted_inputs(x: jax.Array, kh: int, kw: int, stride: int, out_hw: tuple[int, int]):
    """Yield (i, j, x_shift): the input pixels that kernel tap (i, j) multiplies, shaped like dy."""
    ph = same_padding(x.shape[1], kh, stride)
    pw = same_padding(x.shape[2], kw, stride)
    xp = jnp.pad(x, ((0, 0), ph, pw, (0, 0))) if any(ph + pw) else x
    ho, wo = out_hw
    for i in range(kh):
        for j in range(kw):
            yield i, j, lax.slice(
                xp,
                (0, i, j, 0),
                (xp.shape[0], i + (ho - 1) * stride + 1, j + (wo - 1) * stride + 1, xp.shape[3]),
                (1, stride, stride, 1),
            )


def _block_rows(out_h: int, out_w: int) -> int:
    """Output rows per block: the largest divisor of ``out_h`` keeping a block near
    :data:`_BLOCK_PIXELS` pixels (at least one row)."""
    want = max(1, _BLOCK_PIXELS // out_w)
    return max(r for r in range(1, min(want, out_h) + 1) if out_h % r == 0)


def blocked_weight_grad(x: jax.Array, dy: jax.Array, kh: int, kw: int, stride: int) -> jax.Array:
    """Kernel gradient streamed over blocks of output rows: each block's im2col columns
    (pixels x kh*kw*C) stay in cache and meet its dy rows in one matrix product, accumulated by
    two independent ``lax.scan`` loops (one per core). XLA instead materialises transposed
    copies of x and dy and runs a "backward filter" convolution far below matmul speed."""
    b, h, w, c = x.shape
    _, ho, wo, o = dy.shape
    ph, pw = same_padding(h, kh, stride), same_padding(w, kw, stride)
    xp = jnp.pad(x, ((0, 0), ph, pw, (0, 0)))
    rows = _block_rows(ho, wo)
    in_rows = (rows - 1) * stride + kh
    blocks_per_image = ho // rows
    acc_type = jnp.promote_types(dy.dtype, jnp.float32)

    def block(acc: jax.Array, index: jax.Array) -> tuple[jax.Array, None]:
        image, r0 = index // blocks_per_image, (index % blocks_per_image) * rows
        xb = lax.dynamic_slice(xp, (image, r0 * stride, 0, 0), (1, in_rows, xp.shape[2], c))[0]
        db = lax.dynamic_slice(dy, (image, r0, 0, 0), (1, rows, wo, o))[0].reshape(rows * wo, o)
        taps = [
            lax.slice(
                xb, (i, j, 0), (i + (rows - 1) * stride + 1, j + (wo - 1) * stride + 1, c),
                (stride, stride, 1),
            )
            for i in range(kh)
            for j in range(kw)
        ]
        cols = jnp.concatenate(taps, axis=-1).reshape(rows * wo, kh * kw * c)
        product = lax.dot_general(cols, db, (((0,), (0,)), ((), ())), preferred_element_type=acc_type)
        return acc + product, None

    total = b * blocks_per_image
    parts = 2 if total >= 2 else 1
    result = jnp.zeros((kh * kw * c, o), acc_type)
    for part in range(parts):
        indices = jnp.arange(part * total // parts, (part + 1) * total // parts)
        partial_sum, _ = lax.scan(block, jnp.zeros((kh * kw * c, o), acc_type), indices)
        result = result + partial_sum
    return result.reshape(kh, kw, c, o)


def weight_grad(method: str, x: jax.Array, dy: jax.Array, w_shape: tuple[int, ...], stride: int, groups: int):
    """Kernel gradient by ``method`` (one of :data:`METHODS`); None = let XLA do it."""
    kh, kw, cin_g, cout = w_shape
    out_hw = dy.shape[1:3]
    acc = jnp.promote_types(dy.dtype, jnp.float32)
    if method == "xla":
        return None
    if groups == 1:
        fits = cout >= _MIN_BLOCKED_OUT_CHANNELS and out_hw[0] * out_hw[1] >= _MIN_BLOCKED_OUT_PIXELS
        if method == "blocked" or (method == "auto" and fits):
            return blocked_weight_grad(x, dy, kh, kw, stride)
        if method == "taps":
            taps = [
                jnp.einsum("bhwc,bhwo->co", xs, dy, preferred_element_type=acc)
                for _, _, xs in _shifted_inputs(x, kh, kw, stride, out_hw)
            ]
            return jnp.stack(taps).reshape(kh, kw, cin_g, cout)
        return None
    if cin_g == 1 and groups == x.shape[3] == cout:  # depthwise: one fused multiply-sum per tap
        taps = [
            jnp.sum(xs.astype(acc) * dy.astype(acc), axis=(0, 1, 2))
            for _, _, xs in _shifted_inputs(x, kh, kw, stride, out_hw)
        ]
        return jnp.stack(taps).reshape(kh, kw, 1, cout)
    return None


def install(method: str) -> None:
    """Make :func:`mia_core.engine.layers.conv2d` use ``method``'s kernel gradient ("xla": its own)."""
    if method not in METHODS:
        raise ValueError(f"unknown kernel-gradient method {method!r}; choose one of {', '.join(METHODS)}")
    layers.WEIGHT_GRADIENT = None if method == "xla" else (
        lambda x, dy, w_shape, stride, groups: weight_grad(method, x, dy, w_shape, stride, groups)
    )
