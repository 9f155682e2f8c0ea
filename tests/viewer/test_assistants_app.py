"""Smart mode and the DEXTR tool in the app, driven with real mouse and key events: the toggle,
hint strokes, GrabCut in a worker, DEXTR clicks with the status-bar count, Escape, one undo step.
Screenshots of each at work go to $MIA_SCREENSHOTS when set."""

from __future__ import annotations

import importlib.metadata
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PyQt5.QtCore import Qt
from PyQt5.QtTest import QTest

from mia_core.label_store import label_path, load_labels
from mia_core.plugins import load_plugins

H, W = 180, 240


def ellipse_picture() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[:H, :W]
    obj = ((yy - 90) / 45.0) ** 2 + ((xx - 120) / 65.0) ** 2 < 1
    img = rng.normal(50, 10, (H, W))
    img[obj] += 130
    return np.clip(img, 0, 255).astype(np.uint8), obj


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    f = tmp_path / "cells"
    f.mkdir()
    cv2.imwrite(str(f / "cell.png"), ellipse_picture()[0])
    return f


@pytest.fixture
def assist_registry():
    eps = [ep for ep in importlib.metadata.entry_points(group="mia")
           if ep.dist is not None and ep.dist.name == "mia"
           and ep.value.startswith(("mia_plugins.tools.", "mia_plugins.assistants."))]
    return load_plugins(disabled=(), entry_points=eps)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def class_map(w) -> np.ndarray:
    return w.document.labels.to_class_map((H, W))


def shot(w, name: str) -> None:
    out = os.environ.get("MIA_SCREENSHOTS")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        QTest.qWait(20)
        w.grab().save(str(Path(out) / f"{name}.png"))


def wait_idle(qtbot, w) -> None:
    qtbot.waitUntil(lambda: not w.assist.busy, timeout=20000)


def test_smart_mode_stroke_runs_grabcut_in_a_worker_as_one_undo_step(make_window, mouse_for, folder, assist_registry, qtbot):
    w = make_window(folder, assist_registry)
    mouse = mouse_for(w)
    obj = ellipse_picture()[1]
    QTest.keyClick(w, Qt.Key_M, Qt.ControlModifier)
    assert w.assist.smart_on
    assert "Smart mode on" in w.status.message.text()
    QTest.keyClick(w, Qt.Key_F2)
    with qtbot.waitSignal(w.assist.finished, timeout=20000):
        mouse.stroke([(100, 85), (140, 85), (140, 95), (100, 95)])
        assert w.document.labels.is_empty  # the stroke itself is a hint, not an edit
    shot(w, "smart_mode_after_stroke")
    cmap = class_map(w)
    assert iou(cmap == 1, obj) > 0.85
    assert "Smart mode" in w.status.message.text()
    saved = load_labels(label_path(folder / "cell.png"))
    assert not saved.is_empty
    # the colour models are kept in the session for the next stroke
    assert "models" in w.assist.smart.sessions.current.state
    QTest.keyClick(w, Qt.Key_Z, Qt.ControlModifier)
    assert w.document.labels.is_empty  # the whole GrabCut result was one step
    # off again: strokes edit as usual
    QTest.keyClick(w, Qt.Key_M, Qt.ControlModifier)
    assert not w.assist.smart_on and w.assist.smart.sessions.current is None
    mouse.stroke([(10, 10), (30, 10), (30, 30), (10, 30)])
    assert (class_map(w)[12:28, 12:28] == 1).all()
    assert (class_map(w) == 1).sum() < 600


def test_smart_mode_erase_stroke_is_background_and_class_change_resets(make_window, mouse_for, folder, assist_registry, qtbot):
    w = make_window(folder, assist_registry)
    mouse = mouse_for(w)
    w.assist.smart_action.trigger()
    QTest.keyClick(w, Qt.Key_F5)
    with qtbot.waitSignal(w.assist.finished, timeout=20000):
        mouse.stroke([(100, 90), (140, 90)])
    key = w.assist.smart.sessions.current.key
    mouse.click(5, 5, Qt.RightButton)  # erase mode
    assert w.tools.current.mode == "erase"
    with qtbot.waitSignal(w.assist.finished, timeout=20000):
        mouse.stroke([(120, 40), (120, 140)])
    assert not (class_map(w)[50:131, 120] == 1).any()
    QTest.keyClick(w, Qt.Key_0)
    assert w.class_panel.active_class == 0
    assert w.assist.key() != key  # another class: a fresh session
    assert "foreground" not in w.assist.smart.session(w.assist.key()).state


def test_smart_mode_with_no_object_hint_says_so_and_keeps_labels(make_window, mouse_for, folder, assist_registry, qtbot):
    w = make_window(folder, assist_registry)
    mouse = mouse_for(w)
    w.assist.smart_action.trigger()
    QTest.keyClick(w, Qt.Key_F5)
    mouse.click(5, 5, Qt.RightButton)  # erase only: no foreground
    with qtbot.waitSignal(w.assist.finished, timeout=20000):
        mouse.stroke([(20, 20), (40, 20)])
    assert "foreground" in w.status.message.text()
    assert w.document.labels.is_empty


def test_dextr_clicks_count_in_the_status_bar_and_fall_back_to_grabcut(make_window, mouse_for, folder, assist_registry, qtbot):
    w = make_window(folder, assist_registry)
    mouse = mouse_for(w)
    obj = ellipse_picture()[1]
    QTest.keyClick(w, Qt.Key_F7)
    assert w.tools.current.name == "dextr"
    assert "0 of 4" in w.status.message.text()
    points = [(120, 46), (56, 90), (184, 90), (120, 134)]
    mouse.click(*points[0])
    mouse.click(*points[1])
    assert "DEXTR: 2 of 4 extreme points" in w.status.message.text()
    dots = w.canvas.preview.markers  # the clicked points show as dots, not as a line joining them
    assert dots.isVisible() and not w.canvas.preview.line.isVisible()
    x, y = dots.getData()
    assert np.allclose(np.c_[x, y] - 0.5, points[:2], atol=1.0)
    shot(w, "dextr_two_points")
    mouse.click(*points[2])
    with qtbot.waitSignal(w.assist.finished, timeout=20000):
        mouse.click(*points[3])
    shot(w, "dextr_fallback_result")
    assert "GrabCut fallback" in w.status.message.text()
    assert not w.canvas.preview.markers.isVisible()  # the set was used up
    assert iou(class_map(w) == 1, obj) > 0.85
    QTest.keyClick(w, Qt.Key_Z, Qt.ControlModifier)
    assert w.document.labels.is_empty


def test_escape_drops_dextr_points(make_window, mouse_for, folder, assist_registry, qtbot):
    w = make_window(folder, assist_registry)
    mouse = mouse_for(w)
    QTest.keyClick(w, Qt.Key_F7)
    mouse.click(120, 46)
    mouse.click(56, 90)
    mouse.click(184, 90)
    QTest.keyClick(w, Qt.Key_Escape)
    assert w.tools.current.points == [] and not w.canvas.preview.markers.isVisible()
    mouse.click(120, 134)  # only one point now: nothing runs
    assert not w.assist.busy and w.document.labels.is_empty
    assert "1 of 4" in w.status.message.text()


def test_escape_cancels_a_running_assistant_and_labels_stay(make_window, mouse_for, folder, assist_registry, qtbot):
    import threading

    w = make_window(folder, assist_registry)
    gate = threading.Event()
    results = []
    w.assist.run(lambda: gate.wait(10) or "done", results.append, "slow assistant")
    assert w.assist.busy
    QTest.keyClick(w, Qt.Key_Escape)
    assert not w.assist.busy and "cancelled" in w.status.message.text()
    gate.set()
    w.assist.runner.wait(5000)
    QTest.qWait(50)
    assert results == [] and w.document.labels.is_empty


def test_the_bars_cancel_frees_a_running_assistant_and_labels_stay(make_window, folder, assist_registry, qtbot):
    import threading

    w = make_window(folder, assist_registry)
    gate = threading.Event()
    results = []
    w.assist.run(lambda: gate.wait(10) or "done", results.append, "slow assistant")
    panel = w.status.progress
    qtbot.waitUntil(panel.isVisible)
    qtbot.mouseClick(panel.cancel_button, Qt.LeftButton)
    assert not panel.isVisible()
    with qtbot.waitSignal(w.assist.finished, timeout=10000):
        gate.set()  # the worker ends its call; its result is dropped
    assert not w.assist.busy and w.status.message.text() == "Assistant cancelled; labels unchanged"
    assert results == [] and w.document.labels.is_empty


def test_escape_drops_points_in_progress_before_it_cancels_a_running_task(
        make_window, mouse_for, folder, assist_registry, qtbot):
    import threading

    w = make_window(folder, assist_registry)
    mouse = mouse_for(w)
    gate = threading.Event()
    w.assist.run(lambda: gate.wait(10) or "done", lambda _r: None, "slow assistant")
    QTest.keyClick(w, Qt.Key_F7)
    mouse.click(120, 46)
    mouse.click(56, 90)
    QTest.keyClick(w, Qt.Key_Escape)  # first: the two DEXTR points go, the task runs on
    assert w.tools.current.points == [] and w.assist.busy
    assert "0 of 4" in w.status.message.text()  # the bar no longer counts the dropped points
    QTest.keyClick(w, Qt.Key_Escape)  # then, with nothing being drawn: the task
    assert not w.assist.busy and "cancelled" in w.status.message.text()
    gate.set()
    w.assist.runner.wait(5000)


def test_smart_mode_view_change_evaluates_kept_models_frozen(make_window, mouse_for, folder, assist_registry, qtbot):
    w = make_window(folder, assist_registry)
    mouse = mouse_for(w)
    obj = ellipse_picture()[1]
    w.assist.smart_action.trigger()
    QTest.keyClick(w, Qt.Key_F2)
    with qtbot.waitSignal(w.assist.finished, timeout=20000):
        mouse.stroke([(100, 85), (140, 85), (140, 95), (100, 95)])
    session = w.assist.smart.sessions.current
    models = [m.copy() for m in session.state["models"]]
    QTest.keyClick(w, Qt.Key_F2)
    w.assist.smart.sessions.current.state["foreground"][:] = False  # only the models decide now
    with qtbot.waitSignal(w.assist.finished, timeout=20000):
        w.canvas.zoom_by(1.6)  # the view changes, no new stroke
    assert all(np.array_equal(a, b) for a, b in zip(models, session.state["models"]))
    view = w.assist.view()
    x0, y0, x1, y1 = view
    assert (x1 - x0) < W
    cmap = class_map(w)
    assert iou(cmap[y0:y1, x0:x1] == 1, obj[y0:y1, x0:x1]) > 0.85


@pytest.fixture
def labelled_folder(folder: Path) -> Path:
    """The ellipse picture with its ellipse labelled (class 1), as a user leaves it."""
    from mia_core.label_store import save_labels
    from mia_core.labels import LabelSet

    mask = ellipse_picture()[1].astype(np.uint8)
    contour = max(cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)[0], key=len)[:, 0]
    save_labels(label_path(folder / "cell.png"), LabelSet((), (H, W)).add_polygon([tuple(map(float, p)) for p in contour], 1))
    return folder


@pytest.fixture
def train_registry():
    """The tools and assistants, and the encoder and decoder a small DEXTR is built from."""
    eps = [ep for ep in importlib.metadata.entry_points(group="mia")
           if ep.dist is not None and ep.dist.name == "mia"
           and ep.value.startswith(("mia_plugins.tools.", "mia_plugins.assistants.", "mia_plugins.backbones.plain",
                                    "mia_plugins.architectures.unet"))]
    return load_plugins(disabled=(), entry_points=eps)


def test_train_dextr_runs_in_a_worker_escape_cancels_then_the_tool_uses_the_model(
        make_window, mouse_for, labelled_folder, train_registry, qtbot):
    w = make_window(labelled_folder, train_registry)
    mouse = mouse_for(w)
    obj = ellipse_picture()[1]
    model = labelled_folder / "DEXTR_model"
    # small settings so that it trains in seconds (the defaults are MIA's 512 px MobileNetV2)
    w.assist.train_options.update(input_size=64, width=0.5, backbone="plain", decoder_channels=(32, 16, 16, 8, 8),
                                  batch=8)
    progress = w.status.progress
    # 1. Ctrl+Shift+D starts training in a worker; the GUI answers; Escape cancels; nothing saved
    w.assist.train_options["steps"] = 100_000
    QTest.keyClick(w, Qt.Key_D, Qt.ControlModifier | Qt.ShiftModifier)
    assert w.assist.training and "Training DEXTR" in w.status.message.text()
    qtbot.waitUntil(lambda: progress.bar.value() > 0 or not w.assist.training, timeout=400_000)  # past the first step
    assert w.assist.training, w.status.message.text()
    assert progress.isVisible() and progress.bar.maximum() == 100_000
    shot(w, "dextr_training")
    QTest.keyClick(w, Qt.Key_Escape)
    qtbot.waitUntil(lambda: not w.assist.training, timeout=60_000)
    assert "DEXTR training cancelled; nothing saved" in w.status.message.text()
    assert not model.exists()
    # 2. trained to the end, the model is saved and the DEXTR tool uses it (no fallback)
    w.assist.train_options["steps"] = 80
    QTest.keyClick(w, Qt.Key_D, Qt.ControlModifier | Qt.ShiftModifier)
    qtbot.waitUntil(lambda: not w.assist.training, timeout=400_000)
    assert "DEXTR model saved" in w.status.message.text() and (model / "dextr.json").is_file()
    QTest.keyClick(w, Qt.Key_F7)
    for x, y in [(120, 46), (56, 90), (184, 90)]:
        mouse.click(x, y)
    with qtbot.waitSignal(w.assist.finished, timeout=120_000):
        mouse.click(120, 134)
    shot(w, "dextr_trained_result")
    text = w.status.message.text()
    assert "object added with DEXTR" in text and "fallback" not in text
    assert iou(class_map(w) == 1, obj) > 0.7
