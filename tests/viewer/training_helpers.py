"""Shared by the training-window and prediction tests: tiny real networks, their registry,
labelled blob folders (a module of its own so tests never import each other)."""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path

import numpy as np
from PyQt5.QtTest import QTest
from PyQt5.QtWidgets import QApplication

from mia_core.hooks import hookimpl
from mia_core.label_store import label_path, save_labels
from mia_core.plugins import load_plugins
from mia_core.raster import labels_from_class_map
from viewer_helpers import blob_image

TINY_ARCH = "unet_tiny"
TINY_BACKBONE = "plain_tiny"
TRAIN_SHAPE = (96, 96)


class TinyComponents:
    """The real U-Net and plain encoder at small widths: cheap to compile and train on 2 cores."""

    @hookimpl
    def mia_architectures(self):
        from mia_plugins.architectures.unet import UNetArchitecture

        return [UNetArchitecture(name=TINY_ARCH, decoder_channels=(16, 16, 8, 8, 8))]

    @hookimpl
    def mia_backbones(self):
        from mia_plugins.backbones.plain import PlainBackbone

        return [PlainBackbone(name=TINY_BACKBONE, width=0.25)]

    @hookimpl
    def mia_losses(self):
        return [AlwaysNaNLoss()]


class AlwaysNaNLoss:
    """A loss that diverges at once, as a far too high learning rate would."""

    name = "always_nan"

    def __call__(self, logits, onehot, weights):
        import jax.numpy as jnp

        return jnp.nan * jnp.mean(logits)


class _TinyEntryPoint:
    """An entry point as ``load_plugins(entry_points=...)`` takes it (no distribution)."""

    name = "tiny-test-components"
    value = "training_helpers:TinyComponents"
    dist = None

    def load(self):
        return TinyComponents()


def training_registry():
    """mia's own plugins (tools, networks, losses, metrics) plus the tiny components."""
    eps = [ep for ep in importlib.metadata.entry_points(group="mia") if ep.dist is not None and ep.dist.name == "mia"]
    return load_plugins(disabled=(), entry_points=eps + [_TinyEntryPoint()])


def labelled_folder(folder: Path, n: int = 2, shape: tuple[int, int] = TRAIN_SHAPE) -> Path:
    """Blob images whose bright blobs are labelled class 1 (no background contours: the rest is background)."""
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        image = blob_image(shape, 100 + i)
        path = folder / f"train_{i}.png"
        cv2.imwrite(str(path), image)
        save_labels(label_path(path), labels_from_class_map((image > 100).astype(np.int16), ignore=(0,)))
    return folder


def activate(qtbot, window) -> None:
    """Bring the main window to the front (its shortcuts work only while it is active)."""
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)


def save_screenshot(widget, name: str) -> Path:
    """Grab a widget to $MIA_SCREENSHOTS (or a temporary folder) and return the file."""
    out = Path(os.environ.get("MIA_SCREENSHOTS") or Path(os.environ.get("TMPDIR", "/tmp")) / "mia-shots")
    out.mkdir(parents=True, exist_ok=True)
    QTest.qWait(20)
    path = out / f"{name}.png"
    assert widget.grab().save(str(path))
    return path
