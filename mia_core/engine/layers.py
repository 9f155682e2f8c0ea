"""NHWC network building blocks (Flax NNX) tuned for XLA:CPU training.

:func:`conv2d` is a ``jax.custom_vjp`` whose kernel gradient can be computed by other
formulations (:data:`WEIGHT_GRADIENT`: XLA's own by default, which with the Eigen convolutions
of ``steps.XLA_CPU_OPTIONS`` measured fastest, depthwise layers included). Training-mode BatchNorm (:class:`BatchNorm`) and overlapping max-pooling have
hand-written gradients that XLA:CPU runs about 2x and 3.5x faster than the generic ones
(``benchmarks/README.md``).
"""

from __future__ import annotations

import math
from functools import partial, reduce
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import lax

_DIMENSIONS = ("NHWC", "HWIO", "NHWC")

#: Running-statistics momentum of every BatchNorm: 0.9 so that eval-mode predictions are right
#: after a short CPU training (with 0.99 the running statistics still lag after hundreds of steps).
BN_MOMENTUM = 0.9


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """(low, high) padding of one axis that TensorFlow/lax call SAME, so output = ceil(size/stride)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


#: A layer's padding: "same" (TensorFlow/lax SAME, output = ceil(size / stride)) or an int p
#: (p zeros on every side, as PyTorch's ``padding=p``: what converted torchvision/timm weights need).
Padding = str | int


def axis_padding(size: int, kernel: int, stride: int, padding: Padding = "same") -> tuple[int, int]:
    """(low, high) padding of one axis for a :data:`Padding` value."""
    if padding == "same":
        return same_padding(size, kernel, stride)
    if isinstance(padding, int) and padding >= 0:
        return padding, padding
    raise ValueError(f"padding must be 'same' or a non-negative int, got {padding!r}")


def _conv(x: jax.Array, w: jax.Array, stride: int, groups: int, padding: Padding = "same") -> jax.Array:
    """Plain lax convolution (the reference the custom gradient must match)."""
    pads = [axis_padding(x.shape[1], w.shape[0], stride, padding),
            axis_padding(x.shape[2], w.shape[1], stride, padding)]
    return lax.conv_general_dilated(
        x, w, (stride, stride), pads, dimension_numbers=_DIMENSIONS, feature_group_count=groups
    )


def _shifted_inputs(
    x: jax.Array, kh: int, kw: int, stride: int, out_hw: tuple[int, int], padding: Padding = "same"
):
    """Yield (i, j, x_shift): the input pixels that kernel tap (i, j) multiplies, shaped like dy."""
    ph = axis_padding(x.shape[1], kh, stride, padding)
    pw = axis_padding(x.shape[2], kw, stride, padding)
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


#: How :func:`conv2d` computes kernel gradients: "xla" (default: with the Eigen convolutions
#: of ``steps.XLA_CPU_OPTIONS`` XLA's own is fastest), "auto" (blocked where it beat YNNPACK,
#: else XLA), "blocked" or "taps" (nine shifted einsums). Read at trace time; benchmarks switch it.
WEIGHT_GRADIENT = "xla"
# im2col columns per block; a block's columns stay in cache (see benchmarks/README.md)
_BLOCK_PIXELS = 512
# "auto" uses blocks only where they measured faster than XLA: at least this many output
# channels and output pixels per image (narrow or tiny layers stay with XLA)
_MIN_BLOCKED_OUT_CHANNELS = 64
_MIN_BLOCKED_OUT_PIXELS = 1024


def _block_rows(out_h: int, out_w: int) -> int:
    """Output rows per block: the largest divisor of ``out_h`` keeping a block near
    :data:`_BLOCK_PIXELS` pixels (at least one row)."""
    want = max(1, _BLOCK_PIXELS // out_w)
    return max(r for r in range(1, min(want, out_h) + 1) if out_h % r == 0)


def _blocked_weight_grad(
    x: jax.Array, dy: jax.Array, kh: int, kw: int, stride: int, padding: Padding = "same"
) -> jax.Array:
    """Kernel gradient streamed over blocks of output rows: each block's im2col columns
    (pixels x kh*kw*C) stay in cache and meet its dy rows in one matrix product, accumulated by
    two independent ``lax.scan`` loops (one per core). XLA instead materialises transposed
    copies of x and dy and runs a "backward filter" convolution far below matmul speed."""
    b, h, w, c = x.shape
    _, ho, wo, o = dy.shape
    ph, pw = axis_padding(h, kh, stride, padding), axis_padding(w, kw, stride, padding)
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


def _weight_grad(
    x: jax.Array, dy: jax.Array, w_shape: tuple[int, ...], stride: int, groups: int,
    padding: Padding = "same",
):
    """Kernel gradient by the method :data:`WEIGHT_GRADIENT` picks; None = let XLA do it."""
    kh, kw, cin_g, cout = w_shape
    out_hw = dy.shape[1:3]
    acc = jnp.promote_types(dy.dtype, jnp.float32)
    method = WEIGHT_GRADIENT
    if method == "xla":
        return None
    if groups == 1:
        fits = cout >= _MIN_BLOCKED_OUT_CHANNELS and out_hw[0] * out_hw[1] >= _MIN_BLOCKED_OUT_PIXELS
        if method == "blocked" or (method == "auto" and fits):
            return _blocked_weight_grad(x, dy, kh, kw, stride, padding)
        if method == "taps":
            taps = [
                jnp.einsum("bhwc,bhwo->co", xs, dy, preferred_element_type=acc)
                for _, _, xs in _shifted_inputs(x, kh, kw, stride, out_hw, padding)
            ]
            return jnp.stack(taps).reshape(kh, kw, cin_g, cout)
        return None
    if cin_g == 1 and groups == x.shape[3] == cout:  # depthwise: one fused multiply-sum per tap
        taps = [
            jnp.sum(xs.astype(acc) * dy.astype(acc), axis=(0, 1, 2))
            for _, _, xs in _shifted_inputs(x, kh, kw, stride, out_hw, padding)
        ]
        return jnp.stack(taps).reshape(kh, kw, 1, cout)
    return None


@partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4))
def conv2d(
    x: jax.Array, w: jax.Array, stride: int = 1, groups: int = 1, padding: Padding = "same"
) -> jax.Array:
    """NHWC x HWIO convolution (SAME-padded unless told, see :data:`Padding`) with a fast
    weight gradient on XLA:CPU."""
    return _conv(x, w, stride, groups, padding)


def _conv2d_fwd(x, w, stride, groups, padding):
    return _conv(x, w, stride, groups, padding), (x, w)


def _conv2d_bwd(stride, groups, padding, residuals, dy):
    x, w = residuals
    _, input_vjp = jax.vjp(lambda xx: _conv(xx, w, stride, groups, padding), x)
    (dx,) = input_vjp(dy)
    dw = _weight_grad(x, dy, w.shape, stride, groups, padding)
    if dw is None:  # XLA's own kernel gradient is the better (or only) choice here
        _, kernel_vjp = jax.vjp(lambda ww: _conv(x, ww, stride, groups, padding), w)
        (dw,) = kernel_vjp(dy)
    return dx, dw.astype(w.dtype)


conv2d.defvjp(_conv2d_fwd, _conv2d_bwd)


def _normal(key: jax.Array, shape: tuple[int, ...], std: float) -> jax.Array:
    """N(0, std^2) init drawn by numpy from the key's bits: ``jax.random.normal`` compiles anew
    for every kernel shape (seconds each on a small CPU), numpy does not. Under tracing
    (``nnx.jit``/``nnx.eval_shape`` model creation) the key is abstract, so JAX draws."""
    try:
        bits = np.asarray(jax.random.key_data(key)).ravel().tolist()
    except jax.errors.TracerArrayConversionError:
        return std * jax.random.normal(key, shape, jnp.float32)
    values = np.random.default_rng(bits).standard_normal(shape, dtype=np.float32)
    return jnp.asarray(values * np.float32(std))


class Conv2d(nnx.Module):
    """2-D convolution on NHWC tensors using :func:`conv2d` (He-normal kernel init); SAME-padded
    unless ``padding`` says otherwise (an int p pads as PyTorch's ``padding=p``)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        kernel_size: int = 3,
        stride: int = 1,
        use_bias: bool = True,
        *,
        groups: int = 1,
        padding: Padding = "same",
        dtype: Any = None,
        rngs: nnx.Rngs,
    ) -> None:
        axis_padding(1, kernel_size, stride, padding)  # refuse a bad value now, not at first call
        if in_features % groups or out_features % groups:
            raise ValueError(
                f"Conv2d: in_features {in_features} and out_features {out_features} "
                f"must be multiples of groups {groups}"
            )
        self.in_features = in_features
        self.out_features = out_features
        self.kernel_size = kernel_size
        self.stride = stride
        self.groups = groups
        self.padding = padding
        self.dtype = dtype
        fan_in = kernel_size * kernel_size * in_features // groups
        std = math.sqrt(2.0 / fan_in)
        shape = (kernel_size, kernel_size, in_features // groups, out_features)
        self.kernel = nnx.Param(_normal(rngs.params(), shape, std))
        self.bias = nnx.Param(jnp.zeros((out_features,), jnp.float32)) if use_bias else None

    def __call__(self, x: jax.Array) -> jax.Array:
        w = self.kernel[...]
        if self.dtype is not None:
            x, w = x.astype(self.dtype), w.astype(self.dtype)
        y = conv2d(x, w, self.stride, self.groups, self.padding)
        if self.bias is not None:
            y = y + self.bias[...].astype(y.dtype)
        return y


def scale_channels(channels: int, width: float, divisor: int = 1) -> int:
    """``channels * width`` rounded to a multiple of ``divisor`` (at least ``divisor``), so width
    multipliers shrink networks for tests and small machines without breaking channel groups."""
    scaled = max(divisor, int(channels * width + divisor / 2) // divisor * divisor)
    if scaled < 0.9 * channels * width:  # never round down by more than 10 %
        scaled += divisor
    return scaled


def _column_sum(v: jax.Array) -> jax.Array:
    """Per-channel sum over all other axes as a ones-vector matrix product: XLA:CPU runs that
    3x faster than its column ``reduce`` (benchmarks/README.md)."""
    v2 = v.reshape(-1, v.shape[-1])
    return jnp.ones((v2.shape[0],), v.dtype) @ v2


@partial(jax.custom_vjp, nondiff_argnums=(3,))
def batch_norm_train(
    x: jax.Array, scale: jax.Array, bias: jax.Array, epsilon: float
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Training-mode BatchNorm over the last axis: (normalised x, batch mean, biased batch
    variance), as ``nnx.BatchNorm`` computes them (mean(x^2) - mean^2), with a hand-written
    gradient that needs two reductions (as matrix products) and one pass over x."""
    return _batch_norm_train_fwd(x, scale, bias, epsilon)[0]


def _batch_norm_train_fwd(x, scale, bias, epsilon):
    m = x.size // x.shape[-1]
    mean = _column_sum(x) / m
    var = jnp.maximum(_column_sum(x * x) / m - mean * mean, 0.0)
    rstd = lax.rsqrt(var + epsilon)
    # centred form, as flax's: x * a + (bias - mean * a) cancels badly when var is tiny
    return ((x - mean) * (scale * rstd) + bias, mean, var), (x, mean, rstd, scale)


def _batch_norm_train_bwd(epsilon, residuals, cotangents):
    x, mean, rstd, scale = residuals
    dy, dmean, dvar = cotangents
    m = x.size // x.shape[-1]
    centred = x - mean
    sum_dy = _column_sum(dy)
    dscale = rstd * _column_sum(dy * centred)  # sum(dy * x_hat)
    a = scale * rstd
    # dx = a * (dy - mean(dy) - x_hat * mean(dy * x_hat)), plus the paths through the returned
    # batch statistics (zero when only the running averages use them)
    k = a * rstd * dscale / m - 2.0 * dvar / m
    dx = a * dy - centred * k + (dmean / m - a * sum_dy / m)
    return dx, dscale, sum_dy


batch_norm_train.defvjp(_batch_norm_train_fwd, _batch_norm_train_bwd)


class BatchNorm(nnx.BatchNorm):
    """``nnx.BatchNorm`` whose training-mode pass over NHWC float32 input uses
    :func:`batch_norm_train` (half the time of the generic one on XLA:CPU); same parameters,
    statistics and results, so checkpoints and eval mode are unchanged."""

    def __call__(self, x: jax.Array, use_running_average: bool | None = None, *, mask: Any = None):
        running = self.use_running_average if use_running_average is None else use_running_average
        fast = (
            not running
            and mask is None
            and self.axis_name is None
            and self.axis in (-1, x.ndim - 1)
            and x.dtype == jnp.float32
            and self.dtype in (None, jnp.float32)
            and self.scale is not None
            and self.bias is not None
        )
        if not fast:
            return super().__call__(x, use_running_average, mask=mask)
        y, mean, var = batch_norm_train(x, self.scale[...], self.bias[...], self.epsilon)
        mean, var = lax.stop_gradient(mean), lax.stop_gradient(var)
        self.mean[...] = self.momentum * self.mean[...] + (1 - self.momentum) * mean
        self.var[...] = self.momentum * self.var[...] + (1 - self.momentum) * var
        return y


def batch_norm(features: int, rngs: nnx.Rngs) -> BatchNorm:
    """BatchNorm over the channel axis with momentum :data:`BN_MOMENTUM` (see its note)."""
    return BatchNorm(features, momentum=BN_MOMENTUM, epsilon=1e-5, rngs=rngs)


def max_pool(
    x: jax.Array, window: int = 2, stride: int | None = None, padding: Padding = "same"
) -> jax.Array:
    """Max-pool NHWC (SAME padding unless told: an int p pads p with -inf as PyTorch's
    ``MaxPool2d(padding=p)``); the common 2x2/2 case is a reshape (cheap gradient)."""
    stride = window if stride is None else stride
    b, h, w, c = x.shape
    if window == stride and h % window == 0 and w % window == 0 and padding in ("same", 0):
        return x.reshape(b, h // window, window, w // window, window, c).max(axis=(2, 4))
    return _window_max(x, window, stride, padding)


def _window_taps(
    x: jax.Array, window: int, stride: int, padding: Padding = "same"
) -> tuple[jax.Array, list[jax.Array]]:
    """The -inf-padded input and, per window position (row-major), the strided slice of it
    that position sees, each shaped like the pooled output."""
    b, h, w, c = x.shape
    ph, pw = axis_padding(h, window, stride, padding), axis_padding(w, window, stride, padding)
    xp = jnp.pad(x, ((0, 0), ph, pw, (0, 0)), constant_values=-jnp.inf)
    oh, ow = (xp.shape[1] - window) // stride + 1, (xp.shape[2] - window) // stride + 1
    taps = [
        lax.slice(xp, (0, i, j, 0), (b, i + (oh - 1) * stride + 1, j + (ow - 1) * stride + 1, c),
                  (1, stride, stride, 1))
        for i in range(window)
        for j in range(window)
    ]
    return xp, taps


@partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3))
def _window_max(x: jax.Array, window: int, stride: int, padding: Padding) -> jax.Array:
    """SAME max-pool as an element-wise max of shifted slices; its gradient goes to the first
    maximum of each window, as ``reduce_window``'s, without XLA's select-and-scatter
    (benchmarks/README.md)."""
    return reduce(jnp.maximum, _window_taps(x, window, stride, padding)[1])


def _window_max_fwd(x, window, stride, padding):
    _, taps = _window_taps(x, window, stride, padding)
    out = reduce(jnp.maximum, taps)
    # which window position (row-major) holds the first maximum: computed once here and kept
    # (one byte per output), because recomputing it from x inside each tap's gradient made
    # XLA re-read the padded input 81 times for a 3x3 window
    kind = jnp.int8 if len(taps) <= 127 else jnp.int32
    winner = jnp.full(out.shape, len(taps) - 1, kind)
    for index in range(len(taps) - 2, -1, -1):
        winner = jnp.where(taps[index] == out, jnp.asarray(index, kind), winner)
    return out, (winner, x.shape)


def _scatter_taps(parts: list[jax.Array], window: int, stride: int, axis: int) -> jax.Array:
    """Place per-window-tap values back on the (padded) input grid along one axis: input position
    ``stride * i + r`` gets the taps ``k = r + stride * m`` of windows ``i - m``. Built from
    shifted sums and one interleave, so XLA fuses it (interior padding per tap did not fuse)."""
    extra = (window - 1) // stride
    phases = []
    for r in range(stride):
        acc = None
        for m in range((window - 1 - r) // stride + 1):
            widths = [(0, 0)] * parts[0].ndim
            widths[axis] = (m, extra - m)
            term = jnp.pad(parts[r + stride * m], widths)
            acc = term if acc is None else acc + term
        if acc is None:  # a phase no tap reaches (stride > window)
            shape = list(parts[0].shape)
            shape[axis] += extra
            acc = jnp.zeros(shape, parts[0].dtype)
        phases.append(acc)
    stacked = jnp.stack(phases, axis=axis + 1)
    shape = list(stacked.shape)
    return stacked.reshape(shape[:axis] + [shape[axis] * stride] + shape[axis + 2 :])


def _window_max_bwd(window, stride, padding, residuals, dy):
    winner, shape = residuals
    ph = axis_padding(shape[1], window, stride, padding)
    pw = axis_padding(shape[2], window, stride, padding)
    zero = jnp.zeros((), dy.dtype)
    taps = [jnp.where(winner == index, dy, zero) for index in range(window * window)]
    rows = [_scatter_taps(taps[j::window], window, stride, axis=1) for j in range(window)]
    dxp = _scatter_taps(rows, window, stride, axis=2)
    # input rows/columns past the last window (floor-mode pooling) get no gradient
    short_h, short_w = ph[0] + shape[1] - dxp.shape[1], pw[0] + shape[2] - dxp.shape[2]
    if short_h > 0 or short_w > 0:
        dxp = jnp.pad(dxp, ((0, 0), (0, max(short_h, 0)), (0, max(short_w, 0)), (0, 0)))
    return (dxp[:, ph[0] : ph[0] + shape[1], pw[0] : pw[0] + shape[2]],)


_window_max.defvjp(_window_max_fwd, _window_max_bwd)


def upsample2x(x: jax.Array) -> jax.Array:
    """Nearest-neighbour 2x up-sampling of NHWC (a broadcast, so its gradient is a cheap sum)."""
    b, h, w, c = x.shape
    y = jnp.broadcast_to(x[:, :, None, :, None, :], (b, h, 2, w, 2, c))
    return y.reshape(b, 2 * h, 2 * w, c)


#: Which 3x3 kernel rows (columns) each output phase of :func:`upsample_conv3x3` sums into its
#: two taps: [phase][tap][kernel row]. Even output rows see input rows (i-1, i, i), odd rows (i, i, i+1).
_PHASE_TAPS = np.array([[[1, 0, 0], [0, 1, 1]], [[1, 1, 0], [0, 0, 1]]], np.float32)


def upsample_conv3x3(x: jax.Array, w: jax.Array) -> jax.Array:
    """``conv(upsample2x(x), w)`` (3x3, SAME) computed at the low resolution, as four 2x2
    convolutions, one per output phase, interleaved: 16 instead of 36 multiply-adds per input
    pixel and channel pair, and no up-sampled copy (benchmarks/README.md). Its gradient is
    XLA's own (not :func:`conv2d`'s, so :data:`WEIGHT_GRADIENT` does not apply here)."""
    if w.shape[:2] != (3, 3):
        raise ValueError(f"upsample_conv3x3 needs a 3x3 kernel, got {w.shape[0]}x{w.shape[1]}")
    b, h, wd, _ = x.shape
    taps = jnp.asarray(_PHASE_TAPS, jnp.float32)
    w32 = w.astype(jnp.float32)  # kernel rows/columns summed in float32, then cast back
    rows = []
    for a in range(2):
        phases = []
        for c in range(2):
            kernel = jnp.einsum("it,js,tsco->ijco", taps[a], taps[c], w32, precision=lax.Precision.HIGHEST)
            kernel = kernel.astype(w.dtype)
            # phase 0 looks one pixel back (pad before), phase 1 one pixel ahead (pad after)
            padding = ((1 - a, a), (1 - c, c))
            phases.append(
                lax.conv_general_dilated(x, kernel, (1, 1), padding, dimension_numbers=_DIMENSIONS)
            )
        rows.append(jnp.stack(phases, axis=3))  # (b, h, w, column phase, o)
    return jnp.stack(rows, axis=2).reshape(b, 2 * h, 2 * wd, w.shape[3])


#: How :func:`upsample_concat_conv` convolves the up-sampled channels: "phase" (default,
#: :func:`upsample_conv3x3`) or "upsample" (build the up-sampled tensor and convolve it, the
#: textbook way). Read at trace time; ``benchmarks/bench_train.py --upsample-conv`` switches it.
UPSAMPLE_CONV = "phase"


def upsample_concat_conv(conv: Conv2d, x: jax.Array, skip: jax.Array | None) -> jax.Array:
    """``conv(concatenate([upsample2x(x), skip]))`` for a 3x3 stride-1 :class:`Conv2d` (a U-Net
    decoder's first convolution), by default without building either tensor: the up-sampled
    channels go through :func:`upsample_conv3x3`, the skip channels through their slice of the
    same kernel, and the two results are added."""
    if conv.kernel_size != 3 or conv.stride != 1 or conv.groups != 1:
        raise ValueError("upsample_concat_conv needs a 3x3, stride-1, ungrouped Conv2d")
    w = conv.kernel[...]
    if conv.dtype is not None:
        x, w = x.astype(conv.dtype), w.astype(conv.dtype)
    if UPSAMPLE_CONV == "phase":
        y = upsample_conv3x3(x, w[:, :, : x.shape[3]])
        if skip is not None:
            y = y + conv2d(skip.astype(x.dtype), w[:, :, x.shape[3] :], 1, 1)
    else:
        up = upsample2x(x)
        if skip is not None:
            up = jnp.concatenate([up, skip.astype(up.dtype)], axis=-1)
        y = conv2d(up, w, 1, 1)
    if conv.bias is not None:
        y = y + conv.bias[...].astype(y.dtype)
    return y


class ConvBNReLU(nnx.Module):
    """Conv2d (no bias) -> BatchNorm -> ReLU (or ReLU6), the unit most encoders and decoders use."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        kernel_size: int = 3,
        stride: int = 1,
        *,
        groups: int = 1,
        relu6: bool = False,
        activation: bool = True,
        padding: Padding = "same",
        rngs: nnx.Rngs,
    ) -> None:
        self.conv = Conv2d(
            in_features, out_features, kernel_size, stride, use_bias=False, groups=groups,
            padding=padding, rngs=rngs,
        )
        self.bn = batch_norm(out_features, rngs)
        self.relu6 = relu6
        self.activation = activation

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.normalise(self.conv(x))

    def normalise(self, y: jax.Array) -> jax.Array:
        """BatchNorm and activation of a convolution output (for callers that convolve otherwise)."""
        y = self.bn(y)
        if not self.activation:
            return y
        return jnp.clip(y, 0.0, 6.0) if self.relu6 else jax.nn.relu(y)
