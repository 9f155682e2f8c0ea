"""Helpers shared by the engine tests: generated blob images, tiny networks, references."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from mia_core.label_store import label_path, save_labels
from mia_core.plugins import load_plugins as _load_plugins  # kept: CLI tests patch the module's name
from mia_core.raster import labels_from_class_map


def blob_image(
    rng: np.random.Generator, h: int = 96, w: int = 96, n_blobs: int = 4, radius: tuple[int, int] = (9, 15)
) -> tuple[np.ndarray, np.ndarray]:
    """A uint8 image of bright round blobs on a noisy background, and its 0/1 class map."""
    truth = np.zeros((h, w), np.uint8)
    for _ in range(n_blobs):
        r = int(rng.integers(*radius))
        cx, cy = int(rng.integers(r, w - r)), int(rng.integers(r, h - r))
        cv2.circle(truth, (cx, cy), r, 1, -1)
    image = 60.0 + 120.0 * cv2.GaussianBlur(truth.astype(np.float32), (0, 0), 1.0)
    image += rng.normal(0, 18, (h, w))
    return np.clip(image, 0, 255).astype(np.uint8), truth.astype(np.int16)


def write_blob_folder(
    folder: Path,
    n_images: int,
    seed: int = 0,
    size: tuple[int, int] = (96, 96),
    with_background: bool = True,
    n_blobs: int = 4,
) -> list[tuple[Path, np.ndarray]]:
    """Write labelled blob images (PNG) with their label files; return (path, class map) pairs."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n_images):
        image, truth = blob_image(rng, *size, n_blobs=n_blobs)
        path = folder / f"img{i:02d}.png"
        cv2.imwrite(str(path), image)
        ignore = (-1,) if with_background else (-1, 0)
        save_labels(label_path(path), labels_from_class_map(truth, ignore=ignore))
        out.append((path, truth))
    return out


def tiny_net(in_channels: int, num_classes: int, seed: int = 0, width: int = 8):
    """A small fully-convolutional nnx network (no down-sampling): conv-BN-ReLU x2, then 1x1."""
    from flax import nnx

    class TinyNet(nnx.Module):
        def __init__(self, rngs: nnx.Rngs) -> None:
            self.c1 = nnx.Conv(in_channels, width, (3, 3), rngs=rngs)
            self.b1 = nnx.BatchNorm(width, momentum=0.9, rngs=rngs)
            self.c2 = nnx.Conv(width, width, (3, 3), rngs=rngs)
            self.b2 = nnx.BatchNorm(width, momentum=0.9, rngs=rngs)
            self.out = nnx.Conv(width, num_classes, (1, 1), rngs=rngs)

        def __call__(self, x):
            x = nnx.relu(self.b1(self.c1(x)))
            x = nnx.relu(self.b2(self.c2(x)))
            return self.out(x)

    return TinyNet(nnx.Rngs(seed))


def weighted_cross_entropy(logits, onehot, weights):
    """Reference loss for tests: pixel-weighted mean cross-entropy."""
    import jax
    import jax.numpy as jnp

    ce = -jnp.sum(onehot * jax.nn.log_softmax(logits, axis=-1), axis=-1)
    return jnp.sum(ce * weights) / jnp.maximum(jnp.sum(weights), 1e-6)


def reference_iou(pred, target, mask, num_classes):
    """Reference metric for tests: per-class IoU over masked pixels, mean over foreground classes."""
    pred, target, mask = np.asarray(pred), np.asarray(target), np.asarray(mask, bool)
    per = []
    for k in range(num_classes):
        p, t = (pred == k) & mask, (target == k) & mask
        union = np.count_nonzero(p | t)
        per.append(np.count_nonzero(p & t) / union if union else 1.0)
    return {"iou": float(np.mean(per[1:])), "per_class": np.array(per)}


SMALL_ARCH = "unet_small"
SMALL_BACKBONE = "plain_small"


class SmallComponentsPlugin:
    """A plugin giving the real U-Net and plain encoder at small widths, cheap on a 2-core CPU."""

    from mia_core.hooks import hookimpl as _hookimpl

    @_hookimpl
    def mia_architectures(self):
        from mia_plugins.architectures.unet import UNetArchitecture

        return [UNetArchitecture(name=SMALL_ARCH, decoder_channels=(32, 16, 16, 8, 8))]

    @_hookimpl
    def mia_backbones(self):
        from mia_plugins.backbones.plain import PlainBackbone

        return [PlainBackbone(name=SMALL_BACKBONE, width=0.25)]


class _HandMadeEntryPoint:
    """An entry point object as ``load_plugins(entry_points=...)`` accepts (no distribution)."""

    name = "small-test-components"
    value = "tests.engine.conftest:SmallComponentsPlugin"
    dist = None

    def load(self):
        return SmallComponentsPlugin()


def small_registry(disabled=()):
    """Every installed plugin plus the small U-Net/plain components."""
    import importlib.metadata

    eps = list(importlib.metadata.entry_points(group="mia")) + [_HandMadeEntryPoint()]
    return _load_plugins(disabled=disabled, entry_points=eps)


def small_config(**changes):
    """Training settings for quick CPU tests with the small components."""
    from mia_core.engine.config import TrainConfig

    base = dict(architecture=SMALL_ARCH, backbone=SMALL_BACKBONE, patch_size=64, batch_size=4,
                steps_per_epoch=50, epochs=6, early_stopping=0, max_val_patches=16, learning_rate=3e-3)
    base.update(changes)
    return TrainConfig(**base)
