"""The shared layer kit: NHWC network building blocks (Flax NNX) tuned for XLA:CPU training.

Every architecture and backbone plugin builds from these: :class:`Conv2d` (dilation, groups,
depthwise), :class:`ConvTranspose2d`, :class:`BatchNorm`, :class:`ConvBNAct`,
:class:`SqueezeExcitation`, pooling (max, average, adaptive average), resizing (nearest 2x,
bilinear) and activations chosen by name (:func:`activation_fn`).

:func:`conv2d` is a ``jax.custom_vjp``: its kernel gradient is XLA's own (with the Eigen
convolutions of ``steps.XLA_CPU_OPTIONS`` that measured fastest, depthwise layers included),
unless a benchmark installs another formulation in :data:`WEIGHT_GRADIENT`
(``benchmarks/weight_gradients.py``). Training-mode BatchNorm (:class:`BatchNorm`) and
overlapping max-pooling have hand-written gradients that XLA:CPU runs about 2x and 3.5x faster
than the generic ones (``benchmarks/README.md``).
"""

from __future__ import annotations

import math
from functools import partial, reduce
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import lax

from mia_core.engine.geometry import scale_channels  # noqa: F401  (part of the kit)

_DIMENSIONS = ("NHWC", "HWIO", "NHWC")

#: Running-statistics momentum of every BatchNorm: 0.9 so that eval-mode predictions are right
#: after a short CPU training (with 0.99 the running statistics still lag after hundreds of steps).
BN_MOMENTUM = 0.9


def same_padding(size: int, kernel: int, stride: int, dilation: int = 1) -> tuple[int, int]:
    """(low, high) padding of one axis that TensorFlow/lax call SAME, so output = ceil(size/stride)."""
    span = (kernel - 1) * dilation + 1
    out = -(-size // stride)
    total = max((out - 1) * stride + span - size, 0)
    return total // 2, total - total // 2


def conv_padding(
    x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: int, dilation: int,
    padding: int | tuple[int, int] | None,
) -> list[tuple[int, int]]:
    """Padding of both spatial axes: SAME (``padding`` None) or ``padding`` pixels each side (one
    number, or (rows, columns) for the 1x7 / 7x1 kernels of Inception), as PyTorch's
    ``nn.Conv2d(padding=p)`` (the two differ for strided layers on even sizes)."""
    if isinstance(padding, tuple):
        return [(padding[0], padding[0]), (padding[1], padding[1])]
    if padding is not None:
        return [(padding, padding), (padding, padding)]
    return [
        same_padding(x_shape[1], w_shape[0], stride, dilation),
        same_padding(x_shape[2], w_shape[1], stride, dilation),
    ]


def _conv(
    x: jax.Array, w: jax.Array, stride: int, groups: int, dilation: int = 1, padding: int | None = None
) -> jax.Array:
    """Plain lax convolution (the reference the custom gradient must match)."""
    pads = conv_padding(x.shape, w.shape, stride, dilation, padding)
    return lax.conv_general_dilated(
        x, w, (stride, stride), pads, rhs_dilation=(dilation, dilation),
        dimension_numbers=_DIMENSIONS, feature_group_count=groups,
    )


#: An alternative kernel-gradient formulation ``f(x, dy, kernel_shape, stride, groups) -> dw or
#: None`` (None: XLA's own). Unset in production, where XLA's measured fastest; benchmarks and
#: their tests install the candidates of ``benchmarks/weight_gradients.py`` here. Read at trace
#: time; dilated convolutions always use XLA's.
WEIGHT_GRADIENT: Callable[..., jax.Array | None] | None = None


@partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4, 5))
def conv2d(
    x: jax.Array, w: jax.Array, stride: int = 1, groups: int = 1, dilation: int = 1,
    padding: int | None = None,
) -> jax.Array:
    """NHWC x HWIO convolution (grouped, dilated; SAME or explicit padding, see
    :func:`conv_padding`) with a replaceable kernel gradient."""
    return _conv(x, w, stride, groups, dilation, padding)


def _conv2d_fwd(x, w, stride, groups, dilation, padding):
    return _conv(x, w, stride, groups, dilation, padding), (x, w)


def _conv2d_bwd(stride, groups, dilation, padding, residuals, dy):
    x, w = residuals
    _, input_vjp = jax.vjp(lambda xx: _conv(xx, w, stride, groups, dilation, padding), x)
    (dx,) = input_vjp(dy)
    dw = None
    if WEIGHT_GRADIENT is not None and dilation == 1 and padding is None:
        dw = WEIGHT_GRADIENT(x, dy, w.shape, stride, groups)
    if dw is None:  # XLA's own kernel gradient is the better (or only) choice here
        _, kernel_vjp = jax.vjp(lambda ww: _conv(x, ww, stride, groups, dilation, padding), w)
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
    """2-D convolution on NHWC tensors using :func:`conv2d` (He-normal kernel init); SAME padded
    unless ``padding`` gives PyTorch's explicit padding; ``groups`` = in = out is depthwise;
    ``kernel_size`` (rows, columns) makes a rectangular kernel."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        kernel_size: int | tuple[int, int] = 3,
        stride: int = 1,
        use_bias: bool = True,
        *,
        groups: int = 1,
        dilation: int = 1,
        padding: int | tuple[int, int] | None = None,
        dtype: Any = None,
        rngs: nnx.Rngs,
    ) -> None:
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
        self.dilation = dilation
        self.padding = padding
        self.dtype = dtype
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        fan_in = kh * kw * in_features // groups
        std = math.sqrt(2.0 / fan_in)
        shape = (kh, kw, in_features // groups, out_features)
        self.kernel = nnx.Param(_normal(rngs.params(), shape, std))
        self.bias = nnx.Param(jnp.zeros((out_features,), jnp.float32)) if use_bias else None

    def __call__(self, x: jax.Array) -> jax.Array:
        w = self.kernel[...]
        if self.dtype is not None:
            x, w = x.astype(self.dtype), w.astype(self.dtype)
        y = conv2d(x, w, self.stride, self.groups, self.dilation, self.padding)
        if self.bias is not None:
            y = y + self.bias[...].astype(y.dtype)
        return y


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


def batch_norm(features: int, rngs: nnx.Rngs, *, epsilon: float = 1e-5) -> BatchNorm:
    """BatchNorm over the channel axis with momentum :data:`BN_MOMENTUM` (see its note);
    ``epsilon`` 1e-5 as PyTorch (TensorFlow ports such as EfficientNet-Lite use 1e-3)."""
    return BatchNorm(features, momentum=BN_MOMENTUM, epsilon=epsilon, rngs=rngs)


def max_pool(x: jax.Array, window: int = 2, stride: int | None = None, padding: int | None = None) -> jax.Array:
    """Max-pool NHWC with SAME padding (or ``padding`` -inf pixels each side, as PyTorch's
    ``nn.MaxPool2d(padding=p)``); the common 2x2/2 case is a reshape (cheap gradient)."""
    stride = window if stride is None else stride
    b, h, w, c = x.shape
    if padding is not None:  # PyTorch's floor mode: windows that start past the end are dropped
        pads = ((padding, padding), (padding, padding))
    elif window == stride and h % window == 0 and w % window == 0:
        return x.reshape(b, h // window, window, w // window, window, c).max(axis=(2, 4))
    else:
        pads = (same_padding(h, window, stride), same_padding(w, window, stride))
    return _window_max(x, window, stride, pads)


def _window_taps(x: jax.Array, window: int, stride: int, pads: Any) -> tuple[jax.Array, list[jax.Array]]:
    """The -inf-padded input and, per window position (row-major), the strided slice of it
    that position sees, each shaped like the pooled output."""
    b, h, w, c = x.shape
    (ph, pw) = pads
    xp = jnp.pad(x, ((0, 0), ph, pw, (0, 0)), constant_values=-jnp.inf)
    oh, ow = (h + sum(ph) - window) // stride + 1, (w + sum(pw) - window) // stride + 1
    taps = [
        lax.slice(xp, (0, i, j, 0), (b, i + (oh - 1) * stride + 1, j + (ow - 1) * stride + 1, c),
                  (1, stride, stride, 1))
        for i in range(window)
        for j in range(window)
    ]
    return xp, taps


@partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3))
def _window_max(x: jax.Array, window: int, stride: int, pads: Any) -> jax.Array:
    """Max-pool with ((top, bottom), (left, right)) -inf padding as an element-wise max of shifted slices; its gradient goes to the first
    maximum of each window, as ``reduce_window``'s, without XLA's select-and-scatter
    (benchmarks/README.md)."""
    return reduce(jnp.maximum, _window_taps(x, window, stride, pads)[1])


def _window_max_fwd(x, window, stride, pads):
    _, taps = _window_taps(x, window, stride, pads)
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


def _window_max_bwd(window, stride, pads, residuals, dy):
    winner, shape = residuals
    ph, pw = pads
    zero = jnp.zeros((), dy.dtype)
    taps = [jnp.where(winner == index, dy, zero) for index in range(window * window)]
    rows = [_scatter_taps(taps[j::window], window, stride, axis=1) for j in range(window)]
    dxp = _scatter_taps(rows, window, stride, axis=2)
    short_h, short_w = max(ph[0] + shape[1] - dxp.shape[1], 0), max(pw[0] + shape[2] - dxp.shape[2], 0)
    if short_h or short_w:  # trailing input pixels no window reached (floor mode): zero gradient
        dxp = jnp.pad(dxp, ((0, 0), (0, short_h), (0, short_w), (0, 0)))
    return (dxp[:, ph[0] : ph[0] + shape[1], pw[0] : pw[0] + shape[2]],)


_window_max.defvjp(_window_max_fwd, _window_max_bwd)


def upsample_nearest(x: jax.Array, factor: int) -> jax.Array:
    """Nearest-neighbour up-sampling of NHWC by an integer factor (PyTorch's ``nearest``)."""
    b, h, w, c = x.shape
    y = jnp.broadcast_to(x[:, :, None, :, None, :], (b, h, factor, w, factor, c))
    return y.reshape(b, factor * h, factor * w, c)


def _bilinear_matrix(size_in: int, size_out: int, align_corners: bool) -> np.ndarray:
    """(size_out, size_in) linear-interpolation weights along one axis, as PyTorch's
    ``F.interpolate(mode="bilinear")`` computes them (half-pixel centres unless align_corners)."""
    m = np.zeros((size_out, size_in), np.float32)
    for i in range(size_out):
        if align_corners:
            src = i * (size_in - 1) / (size_out - 1) if size_out > 1 else 0.0
        else:
            src = max((i + 0.5) * size_in / size_out - 0.5, 0.0)
        i0 = min(int(math.floor(src)), size_in - 1)
        i1 = min(i0 + 1, size_in - 1)
        t = src - i0
        m[i, i0] += 1.0 - t
        m[i, i1] += t
    return m


def resize_bilinear(x: jax.Array, size: tuple[int, int], align_corners: bool = False) -> jax.Array:
    """Bilinear resize of NHWC to ``size`` (height, width) as two small matrix products, so the
    gradient is two more (PyTorch's ``F.interpolate(mode="bilinear", align_corners=...)``)."""
    h, w = x.shape[1:3]
    if (h, w) == tuple(size):
        return x
    mh = jnp.asarray(_bilinear_matrix(h, size[0], align_corners), x.dtype)
    mw = jnp.asarray(_bilinear_matrix(w, size[1], align_corners), x.dtype)
    return jnp.einsum("oh,bhwc,pw->bopc", mh, x, mw)


def _adaptive_matrix(size_in: int, size_out: int) -> np.ndarray:
    """(size_out, size_in) averaging weights of PyTorch's adaptive pooling bins along one axis:
    bin i covers [floor(i * n / k), ceil((i + 1) * n / k))."""
    m = np.zeros((size_out, size_in), np.float32)
    for i in range(size_out):
        lo = (i * size_in) // size_out
        hi = -(-((i + 1) * size_in) // size_out)
        m[i, lo:hi] = 1.0 / (hi - lo)
    return m


def adaptive_avg_pool(x: jax.Array, size: int | tuple[int, int]) -> jax.Array:
    """Adaptive average pooling of NHWC to ``size`` bins (PyTorch's ``AdaptiveAvgPool2d``)."""
    oh, ow = (size, size) if isinstance(size, int) else size
    h, w = x.shape[1:3]
    if (oh, ow) == (1, 1):
        return jnp.mean(x, axis=(1, 2), keepdims=True)
    mh = jnp.asarray(_adaptive_matrix(h, oh), x.dtype)
    mw = jnp.asarray(_adaptive_matrix(w, ow), x.dtype)
    return jnp.einsum("oh,bhwc,pw->bopc", mh, x, mw)


def avg_pool(x: jax.Array, window: int = 2, stride: int | None = None, padding: int = 0,
             count_include_pad: bool = True) -> jax.Array:
    """Average pooling of NHWC with symmetric zero ``padding`` (PyTorch's ``AvgPool2d``, floor
    mode); the common non-overlapping case is a reshape."""
    stride = window if stride is None else stride
    b, h, w, c = x.shape
    if window == stride and not padding and h % window == 0 and w % window == 0:
        return x.reshape(b, h // window, window, w // window, window, c).mean(axis=(2, 4))
    dims, strides = (1, window, window, 1), (1, stride, stride, 1)
    pads = ((0, 0), (padding, padding), (padding, padding), (0, 0))
    total = lax.reduce_window(x, 0.0, lax.add, dims, strides, pads)
    if count_include_pad:
        return total / (window * window)
    ones = jnp.ones((1, h, w, 1), x.dtype)
    return total / lax.reduce_window(ones, 0.0, lax.add, dims, strides, pads)


def _hard_sigmoid(x: jax.Array) -> jax.Array:
    return jnp.clip(x + 3.0, 0.0, 6.0) / 6.0


#: Activations by the names plugins use (PyTorch's names where they differ from jax.nn's).
ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "relu": jax.nn.relu,
    "relu6": lambda x: jnp.clip(x, 0.0, 6.0),
    "silu": jax.nn.silu,
    "swish": jax.nn.silu,
    "sigmoid": jax.nn.sigmoid,
    "hard_sigmoid": _hard_sigmoid,
    "hard_swish": lambda x: x * _hard_sigmoid(x),
    "gelu": partial(jax.nn.gelu, approximate=False),
    "leaky_relu": partial(jax.nn.leaky_relu, negative_slope=0.01),
    "tanh": jnp.tanh,
    "identity": lambda x: x,
}


def activation_fn(name: str | None) -> Callable[[jax.Array], jax.Array]:
    """The activation function called ``name`` (None = identity); unknown names list the valid ones."""
    if name is None:
        return ACTIVATIONS["identity"]
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(sorted(ACTIVATIONS))}") from None


class ConvBNAct(nnx.Module):
    """Conv2d (no bias) -> BatchNorm (``epsilon`` 1e-5 as PyTorch; the TensorFlow-trained Inceptions
    use 1e-3) -> activation by name (None: none), the unit most encoders and decoders use.
    Attributes ``conv`` and ``bn`` (saved parameter paths rely on them)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        kernel_size: int | tuple[int, int] = 3,
        stride: int = 1,
        *,
        groups: int = 1,
        dilation: int = 1,
        activation: str | None = "relu",
        padding: int | tuple[int, int] | None = None,
        epsilon: float = 1e-5,
        rngs: nnx.Rngs,
    ) -> None:
        self.conv = Conv2d(
            in_features, out_features, kernel_size, stride, use_bias=False, groups=groups,
            dilation=dilation, padding=padding, rngs=rngs,
        )
        self.bn = batch_norm(out_features, rngs, epsilon=epsilon)
        activation_fn(activation)  # refuse an unknown name when the layer is built
        self.activation = activation

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.normalise(self.conv(x))

    def normalise(self, y: jax.Array) -> jax.Array:
        """BatchNorm and activation of a convolution output (for callers that convolve otherwise)."""
        return activation_fn(self.activation)(self.bn(y))


def _phase_geometry(n: int, k: int, stride: int, padding: int, out: int, phase: int) -> tuple[int, int, int]:
    """(first kernel tap, low pad, high pad) along one axis of output phase ``phase`` of a
    transposed convolution: output ``stride * i + phase`` sums ``x[i + j + offset] * w[tap + stride * (taps - 1 - j)]``."""
    tap, base = (phase + padding) % stride, (phase + padding) // stride
    taps = len(range(tap, k, stride))
    offset = base - taps + 1
    return tap, -offset, out // stride + taps - 1 + offset - n


def conv_transpose_phases(x: jax.Array, w: jax.Array, stride: int, padding: int,
                          output_padding: int) -> jax.Array | None:
    """PyTorch's transposed convolution (HWIO kernel ``w``, not flipped) as ``stride**2`` stride-1
    convolutions of ``x``, one per output phase, interleaved: the input is never dilated with
    zeros, so a stride-2 layer does a quarter of the multiply-adds it does dilated (XLA:CPU's
    convolution multiplies the inserted zeros). None where the geometry does not split evenly
    (the output size not a multiple of the stride, or a kernel smaller than the stride)."""
    k = w.shape[0]
    b, h, wd, _ = x.shape
    out_h, out_w = ((n - 1) * stride - 2 * padding + k + output_padding for n in (h, wd))
    if stride == 1 or k < stride or out_h % stride or out_w % stride or w.shape[1] != k:
        return None
    rows = []
    for ph in range(stride):
        th, lo_h, hi_h = _phase_geometry(h, k, stride, padding, out_h, ph)
        phases = []
        for pw in range(stride):
            tw, lo_w, hi_w = _phase_geometry(wd, k, stride, padding, out_w, pw)
            kernel = w[th::stride, tw::stride][::-1, ::-1]
            phases.append(lax.conv_general_dilated(
                x, kernel, (1, 1), ((lo_h, hi_h), (lo_w, hi_w)), dimension_numbers=_DIMENSIONS
            ))
        rows.append(jnp.stack(phases, axis=3))  # (b, out_h / s, out_w / s, column phase, o)
    return jnp.stack(rows, axis=2).reshape(b, out_h, out_w, w.shape[3])


class ConvTranspose2d(nnx.Module):
    """Transposed convolution with PyTorch's geometry (``nn.ConvTranspose2d(k, stride, padding,
    output_padding)``: output = (n - 1) * stride - 2 * padding + k + output_padding); HWIO kernel."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        output_padding: int = 0,
        use_bias: bool = True,
        *,
        rngs: nnx.Rngs,
    ) -> None:
        if padding > kernel_size - 1:
            raise ValueError(f"ConvTranspose2d: padding {padding} must be below kernel_size {kernel_size}")
        self.kernel_size, self.stride = kernel_size, stride
        self.padding, self.output_padding = padding, output_padding
        std = math.sqrt(2.0 / (kernel_size * kernel_size * in_features))
        shape = (kernel_size, kernel_size, in_features, out_features)
        self.kernel = nnx.Param(_normal(rngs.params(), shape, std))
        self.bias = nnx.Param(jnp.zeros((out_features,), jnp.float32)) if use_bias else None

    def __call__(self, x: jax.Array) -> jax.Array:
        w = self.kernel[...].astype(x.dtype)
        y = conv_transpose_phases(x, w, self.stride, self.padding, self.output_padding)
        if y is None:
            lo = self.kernel_size - 1 - self.padding
            pads = [(lo, lo + self.output_padding)] * 2
            # the adjoint of a strided convolution: dilate the input, convolve with the flipped kernel
            y = lax.conv_general_dilated(
                x, w[::-1, ::-1], (1, 1), pads, lhs_dilation=(self.stride, self.stride),
                dimension_numbers=_DIMENSIONS,
            )
        if self.bias is not None:
            y = y + self.bias[...].astype(y.dtype)
        return y


class SqueezeExcitation(nnx.Module):
    """Squeeze-and-excitation (Hu et al. 2018): global average, 1x1 conv ``fc1``, activation,
    1x1 conv ``fc2``, gate (sigmoid by default) scaling each channel of the input."""

    def __init__(
        self,
        channels: int,
        reduced: int,
        *,
        activation: str = "relu",
        gate: str = "sigmoid",
        rngs: nnx.Rngs,
    ) -> None:
        self.fc1 = Conv2d(channels, reduced, 1, rngs=rngs)
        self.fc2 = Conv2d(reduced, channels, 1, rngs=rngs)
        activation_fn(activation), activation_fn(gate)  # refuse unknown names when built
        self.activation, self.gate = activation, gate

    def __call__(self, x: jax.Array) -> jax.Array:
        s = jnp.mean(x, axis=(1, 2), keepdims=True)
        s = self.fc2(activation_fn(self.activation)(self.fc1(s)))
        return x * activation_fn(self.gate)(s)


class SeparableConv2d(nnx.Module):
    """Depthwise k x k convolution (``depthwise``, no bias) then a 1x1 ``pointwise`` one, as
    smp's ``SeparableConv2d`` (DeepLabv3+, Xception)."""

    def __init__(
        self, in_features: int, out_features: int, kernel_size: int = 3, stride: int = 1, *,
        dilation: int = 1, use_bias: bool = False, rngs: nnx.Rngs,
    ) -> None:
        self.depthwise = Conv2d(in_features, in_features, kernel_size, stride, use_bias=False,
                                groups=in_features, dilation=dilation, rngs=rngs)
        self.pointwise = Conv2d(in_features, out_features, 1, use_bias=use_bias, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.pointwise(self.depthwise(x))


def group_norm(features: int, groups: int, rngs: nnx.Rngs) -> nnx.GroupNorm:
    """GroupNorm with ``groups`` groups (PyTorch's eps 1e-5), fewer where a narrow test network
    has fewer channels (the largest divisor of ``features`` not above ``groups``)."""
    groups = max(g for g in range(1, min(groups, features) + 1) if features % g == 0)
    return nnx.GroupNorm(features, num_groups=groups, epsilon=1e-5, rngs=rngs)
