"""Fixtures for the app tests: offscreen Qt, settings in a temporary folder, generated images,
windows, and a mouse that clicks on image pixels of the canvas (helpers in viewer_helpers.py)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before anything imports Qt

import gc
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PyQt5.QtCore import QEvent
from PyQt5.QtWidgets import QApplication

from mia_core.plugins import load_plugins
from viewer_helpers import IMAGE_SHAPE, STACK_SHAPE, Mouse, blob_image, builtin_entry_points, wait_loaded


@pytest.fixture(autouse=True)
def collect_windows_in_the_gui_thread():
    """Delete each test's closed windows and collect their Python side here, on the GUI thread.

    Plots are cyclic garbage; left to the next test, a collection could start on a worker thread
    (training, image loading) and free plot items while the GUI thread paints, which crashes Qt.
    """
    yield
    if QApplication.instance() is not None:
        QApplication.sendPostedEvents(None, QEvent.DeferredDelete)
    gc.collect()


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads or writes the real user settings or data folder."""
    config = tmp_path / "config"
    monkeypatch.setenv("MIA_CONFIG_DIR", str(config))
    monkeypatch.setenv("MIA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("MIA_DISABLE_PLUGINS", raising=False)
    return config


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    """Two 8-bit images, a 16-bit 3-frame stack and a file that is not an image."""
    folder = tmp_path / "images"
    folder.mkdir()
    cv2.imwrite(str(folder / "a_blobs.png"), blob_image(IMAGE_SHAPE, 1))
    cv2.imwrite(str(folder / "b_blobs.png"), blob_image(IMAGE_SHAPE, 2))
    stack = np.stack([blob_image(STACK_SHAPE[1:], 10 + i, np.uint16) for i in range(STACK_SHAPE[0])])
    tifffile.imwrite(folder / "c_stack.tif", stack, photometric="minisblack")
    (folder / "d_broken.png").write_bytes(b"this is not a png file at all")
    return folder


@pytest.fixture
def registry():
    """Fresh built-in tools for every test (tools keep their mode and size)."""
    return load_plugins(disabled=(), entry_points=builtin_entry_points())


@pytest.fixture
def make_window(qtbot, registry):
    """Open the main window on a folder and wait until its first image is shown."""
    from mia_core.viewer.settings import UserSettings
    from mia_core.viewer.window import MainWindow

    def make(folder: Path | None, reg=None, wait: bool = True) -> MainWindow:
        settings, warning = UserSettings.load()
        window = MainWindow(reg or registry, settings, warning)
        qtbot.addWidget(window)
        window.resize(1100, 760)
        window.show()
        qtbot.waitExposed(window)
        window.activateWindow()
        if folder is not None:
            window.open_folder(folder)
            if wait:
                wait_loaded(qtbot, window)
        return window

    yield make


@pytest.fixture
def mouse_for(qtbot):
    """``mouse_for(window)`` -> a Mouse on that window's canvas."""
    return lambda window: Mouse(qtbot, window)
