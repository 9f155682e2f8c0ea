"""The U-Net network of :mod:`mia_plugins.architectures.unet` (imported when a model is built).

The first convolution of a decoder block runs on the low-resolution input
(:func:`upsample_concat_conv`): the same function with fewer operations.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax import lax

from mia_core.engine.layers import Conv2d, ConvBNAct, conv2d, upsample_nearest

_DIMENSIONS = ("NHWC", "HWIO", "NHWC")

#: Which 3x3 kernel rows (columns) each output phase of :func:`upsample_conv3x3` sums into its
#: two taps: [phase][tap][kernel row]. Even output rows see input rows (i-1, i, i), odd rows (i, i, i+1).
_PHASE_TAPS = np.array([[[1, 0, 0], [0, 1, 1]], [[1, 1, 0], [0, 0, 1]]], np.float32)


def upsample_conv3x3(x: jax.Array, w: jax.Array) -> jax.Array:
    """``conv(upsample_nearest(x, 2), w)`` (3x3, SAME) computed at the low resolution, as four 2x2
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
    """``conv(concatenate([upsample_nearest(x, 2), skip]))`` for a 3x3 stride-1 :class:`Conv2d` (a U-Net
    decoder's first convolution), by default without building either tensor: the up-sampled
    channels go through :func:`upsample_conv3x3`, the skip channels through their slice of the
    same kernel, and the two results are added."""
    if conv.kernel_size != 3 or conv.stride != 1 or conv.groups != 1 or conv.dilation != 1 or conv.padding is not None:
        raise ValueError("upsample_concat_conv needs a 3x3, stride-1, ungrouped, undilated SAME Conv2d")
    w = conv.kernel[...]
    if conv.dtype is not None:
        x, w = x.astype(conv.dtype), w.astype(conv.dtype)
    if UPSAMPLE_CONV == "phase":
        y = upsample_conv3x3(x, w[:, :, : x.shape[3]])
        if skip is not None:
            y = y + conv2d(skip.astype(x.dtype), w[:, :, x.shape[3] :], 1, 1)
    else:
        up = upsample_nearest(x, 2)
        if skip is not None:
            up = jnp.concatenate([up, skip.astype(up.dtype)], axis=-1)
        y = conv2d(up, w, 1, 1)
    if conv.bias is not None:
        y = y + conv.bias[...].astype(y.dtype)
    return y




class DecoderBlock(nnx.Module):
    """Up-sample 2x, concatenate the skip (if any), two conv/BN/ReLU."""

    def __init__(self, cin: int, skip: int, cout: int, *, rngs: nnx.Rngs) -> None:
        self.conv1 = ConvBNAct(cin + skip, cout, 3, rngs=rngs)
        self.conv2 = ConvBNAct(cout, cout, 3, rngs=rngs)

    def __call__(self, x: jax.Array, skip: jax.Array | None) -> jax.Array:
        y = upsample_concat_conv(self.conv1.conv, x, skip)
        return self.conv2(self.conv1.normalise(y))


class UNet(nnx.Module):
    """Encoder + U-Net decoder mapping (B, H, W, C) images to (B, H, W, K) logits."""

    def __init__(
        self,
        encoder: nnx.Module,
        channels: dict[int, int],
        decoder_channels: tuple[int, ...],
        num_classes: int,
        size_multiple: int = 32,
        *,
        rngs: nnx.Rngs,
    ) -> None:
        self.encoder = encoder
        cin = channels[32]
        blocks = []
        for skip_stride, cout in zip((16, 8, 4, 2, None), decoder_channels):
            skip = channels[skip_stride] if skip_stride else 0
            blocks.append(DecoderBlock(cin, skip, cout, rngs=rngs))
            cin = cout
        self.decoder = nnx.List(blocks)
        self.head = Conv2d(cin, num_classes, 3, rngs=rngs)
        self.num_classes = num_classes
        self.size_multiple = size_multiple

    def __call__(self, x: jax.Array) -> jax.Array:
        h, w = x.shape[1:3]
        if h % self.size_multiple or w % self.size_multiple:
            raise ValueError(
                f"unet input height and width must be multiples of {self.size_multiple}, got {h}x{w}"
            )
        features = self.encoder(x)
        y = features[32]
        for skip_stride, block in zip((16, 8, 4, 2, None), self.decoder):
            y = block(y, features[skip_stride] if skip_stride else None)
        return self.head(y).astype(jnp.float32)
