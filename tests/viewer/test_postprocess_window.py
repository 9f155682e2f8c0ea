"""The Postprocessing window and its canvas overlays, driven with real mouse and key events:
minimum size hidden then applied, separation preview then apply, the skeleton overlay's cache,
object numbers shown and assigned, tracking a stack, and "Use as stack label" with its undo."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PyQt5.QtCore import QPoint, QRectF, Qt, QTimer
from PyQt5.QtTest import QTest
from PyQt5.QtWidgets import QApplication, QMessageBox
from skimage.draw import disk

from mia_core.label_store import label_path, load_labels, save_labels
from mia_core.labels import Contour, LabelSet
from mia_core.plugins import load_plugins
from mia_core.raster import labels_from_class_map
from mia_core.stack_label import kept_path
from mia_core.viewer.postprocess_window import open_postprocessing
from viewer_helpers import builtin_entry_points

SHAPE = (100, 140)


@pytest.fixture
def registry():
    """The built-in tools and postprocessors."""
    eps = [ep for ep in importlib.metadata.entry_points(group="mia")
           if ep.dist is not None and ep.dist.name == "mia" and ep.value.startswith("mia_plugins.postprocessing.")]
    return load_plugins(disabled=(), entry_points=builtin_entry_points() + eps)


def _image(folder: Path, name: str, cm: np.ndarray) -> Path:
    path = folder / name
    cv2.imwrite(str(path), np.full(cm.shape, 40, np.uint8))
    save_labels(label_path(path), labels_from_class_map(cm))
    return path


def _folder(tmp_path: Path, cm: np.ndarray) -> tuple[Path, Path]:
    folder = tmp_path / "imgs"
    folder.mkdir()
    return folder, label_path(_image(folder, "a.png", cm))


def _dialog(w, qtbot):
    dialog = open_postprocessing(w)
    qtbot.waitExposed(dialog)
    return dialog


def _set_spin(qtbot, spin, value: int) -> None:
    """Type a value into a spin box as a user does."""
    spin.setFocus()
    spin.selectAll()
    qtbot.keyClicks(spin, str(value))
    qtbot.keyClick(spin, Qt.Key_Enter)


def _tick(qtbot, box) -> None:
    """Click a check box on its indicator (a wide box does not react to clicks past its text)."""
    qtbot.mouseClick(box, Qt.LeftButton, pos=QPoint(8, box.height() // 2))


def _activate(w, qtbot) -> None:
    w.activateWindow()  # the offscreen platform does not give focus back after a dialog
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w)


def _undo(w, qtbot) -> None:
    _activate(w, qtbot)
    QTest.keyClick(w, Qt.Key_Z, Qt.ControlModifier)


def test_minimum_size_hides_small_contours_until_applied_as_one_undo_step(make_window, qtbot, tmp_path):
    cm = np.full(SHAPE, -1, np.int16)
    cm[disk((30, 30), 10)] = 1
    cm[disk((60, 100), 12)] = 1
    cm[80:82, 10:13] = 1  # 6 pixels
    cm[5, 130] = 2  # 1 pixel
    folder, path = _folder(tmp_path, cm)
    w = make_window(folder)
    assert len(w.canvas.contours.items) == 4
    d = _dialog(w, qtbot)
    _set_spin(qtbot, d.min_size, 10)
    _tick(qtbot, d.hide_small)
    assert len(w.canvas.contours.items) == 2  # hidden on the canvas ...
    assert len(load_labels(path)) == 4  # ... the file stays as it is
    _set_spin(qtbot, d.min_size, 5)
    assert len(w.canvas.contours.items) == 3
    import json

    from mia_core.viewer.results_window import settings_path

    assert json.loads(settings_path(folder).read_text())["min_size"] == 5  # results leave them out too
    qtbot.mouseClick(d.apply_min, Qt.LeftButton)
    assert len(load_labels(path)) == 3 and "Removed 1 contour" in d.status.text()
    _undo(w, qtbot)
    assert len(load_labels(path)) == 4
    _tick(qtbot, d.hide_small)
    assert len(w.canvas.contours.items) == 4


def test_separation_preview_then_apply_as_one_undo_step(make_window, qtbot, tmp_path):
    cm = np.full(SHAPE, -1, np.int16)
    cm[disk((50, 45), 22)] = 1
    cm[disk((50, 88), 22)] = 1  # two touching nuclei, one contour
    folder, path = _folder(tmp_path, cm)
    w = make_window(folder)
    assert len(w.canvas.contours.items) == 1
    d = _dialog(w, qtbot)
    assert not d.apply_separation.isEnabled()
    qtbot.mouseClick(d.preview, Qt.LeftButton)
    qtbot.waitUntil(lambda: d.apply_separation.isEnabled(), timeout=10000)
    assert len(w.canvas.contours.items) == 2 and len(load_labels(path)) == 1  # a preview only
    qtbot.mouseClick(d.apply_separation, Qt.LeftButton)
    saved = load_labels(path)
    assert len(saved) == 2 and not d.preview.isChecked()
    # a background line between the parts: no pixel of one touches the other (8-connected)
    a, b = (saved.with_shape(SHAPE).to_instance_map() == i for i in (1, 2))
    assert not (cv2.dilate(a.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool) & b).any()
    _undo(w, qtbot)
    assert len(load_labels(path)) == 1


def _bars() -> np.ndarray:
    cm = np.full(SHAPE, -1, np.int16)
    cm[20:29, 10:60] = 1  # a horizontal bar, centre row 24
    cm[60:69, 80:130] = 1  # another, centre row 64
    return cm


def test_skeleton_overlay_is_cached_per_contour_and_recomputed_after_an_edit(make_window, mouse_for, qtbot, tmp_path):
    folder, path = _folder(tmp_path, _bars())
    w = make_window(folder)
    skel = w.postprocess.skeleton
    d = _dialog(w, qtbot)
    assert not skel.enabled and skel.computations == 0  # off by default
    _tick(qtbot, d.skeleton)
    qtbot.waitUntil(lambda: skel.computations == 2 and not skel.busy, timeout=10000)
    qtbot.waitUntil(lambda: skel.layer.pixels > 0)
    pixels = np.concatenate([v[1][0] for v in skel.cache.values()])
    assert set(pixels[:, 1]) == {24, 64}  # the centre lines of the bars
    # panning and redrawing reuse the cache
    w.canvas.view.setRange(QRectF(0, 0, 70, 50), padding=0)  # only the first bar in view
    QTest.qWait(200)
    w.canvas.contours.refresh()
    QTest.qWait(100)
    assert skel.computations == 2 and not skel.busy
    # an edit makes one new contour: only its skeleton is computed again
    _activate(w, qtbot)
    QTest.keyClick(w, Qt.Key_F2)  # freehand: add a block to the first bar
    mouse = mouse_for(w)
    mouse.stroke([(20, 26), (30, 26), (30, 40), (20, 40), (20, 26)])
    assert sorted(c.bbox for c in load_labels(path)) == [(10, 20, 60, 41), (80, 60, 130, 69)]
    qtbot.waitUntil(lambda: skel.computations == 3 and not skel.busy, timeout=10000)
    # a new kernel recomputes the visible contour only (the other bar is out of view)
    _tick(qtbot, d.skeleton)  # off ...
    assert skel.layer.pixels == 0
    _tick(qtbot, d.skeleton)  # ... and on again: nothing to compute
    QTest.qWait(100)
    assert skel.computations == 3
    d.kernel.setFocus()
    qtbot.keyClick(d.kernel, Qt.Key_Right)
    assert skel.kernel == 13 and d.kernel_label.text() == "13"
    qtbot.waitUntil(lambda: skel.computations == 4 and not skel.busy, timeout=10000)


def test_object_numbers_shown_and_assigned_with_the_assign_tool(make_window, mouse_for, qtbot, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    path = folder / "a.png"
    cv2.imwrite(str(path), np.zeros(SHAPE, np.uint8))
    sq = lambda x, y: np.array([[x, y], [x + 20, y], [x + 20, y + 20], [x, y + 20]])  # noqa: E731
    save_labels(label_path(path), LabelSet([Contour(1, sq(10, 10), object_id=3), Contour(1, sq(70, 50))], SHAPE))
    w = make_window(folder)
    numbers = w.postprocess.numbers
    assert numbers.texts == []  # off by default
    d = _dialog(w, qtbot)
    _tick(qtbot, d.numbers)
    assert w.actions_postprocess.show_numbers.isChecked()
    assert numbers.texts == [("3", 20.5, 20.5)]
    qtbot.mouseClick(d.new_number, Qt.LeftButton)
    assert d.object_number.value() == 4 and w.object_number == 4
    _activate(w, qtbot)
    QTest.keyClick(w, Qt.Key_F4)
    mouse = mouse_for(w)
    mouse.click(80, 60, Qt.RightButton)
    assert w.tools.current.mode == "object number"
    mouse.click(80, 60)
    assert sorted(c.object_id for c in load_labels(label_path(path))) == [3, 4]
    assert sorted(t[0] for t in numbers.texts) == ["3", "4"]
    _set_spin(qtbot, d.object_number, 3)  # merge both into track 3
    mouse.click(80, 60)
    assert [c.object_id for c in load_labels(label_path(path))] == [3, 3]
    mouse.click(80, 60, Qt.RightButton)  # back to assigning classes
    mouse.click(80, 60)
    assert [c.class_id for c in load_labels(label_path(path))] == [1, 1]  # class 1 was active


def _stack(tmp_path: Path, frames: int = 3) -> tuple[Path, Path]:
    folder = tmp_path / "stack"
    folder.mkdir()
    tif = folder / "s.tif"
    tifffile.imwrite(tif, np.zeros((frames, *SHAPE), np.uint8), photometric="minisblack")
    for t in range(frames):
        cm = np.full(SHAPE, -1, np.int16)
        cm[disk((30, 20 + 8 * t), 7)] = 1
        cm[disk((70, 110 - 8 * t), 7)] = 1
        save_labels(label_path(tif, t), labels_from_class_map(cm))
    return folder, tif


def test_tracking_the_open_stack_writes_track_numbers(make_window, qtbot, tmp_path):
    folder, tif = _stack(tmp_path)
    w = make_window(folder)
    d = _dialog(w, qtbot)
    qtbot.mouseClick(d.track, Qt.LeftButton)
    qtbot.waitUntil(lambda: "track(s) over 3 frames" in d.status.text(), timeout=10000)
    by_frame = [{c.bbox[1] < 50: c.object_id for c in load_labels(label_path(tif, t))} for t in range(3)]
    assert by_frame[0] == by_frame[1] == by_frame[2]
    assert sorted(by_frame[0].values()) == [1, 2]
    _tick(qtbot, d.numbers)
    _activate(w, qtbot)
    QTest.keyClick(w, Qt.Key_Period)
    assert w.frame == 1
    assert sorted(t[0] for t in w.postprocess.numbers.texts) == ["1", "2"]  # shown on every frame
    QTest.keyClick(w, Qt.Key_H, Qt.ControlModifier)
    assert not any(item.isVisible() for item in w.postprocess.numbers.items)
    QTest.keyClick(w, Qt.Key_H, Qt.ControlModifier)
    w.grab().save("/tmp/results2-track-numbers.png")


def test_tracking_the_folder_of_single_images(make_window, qtbot, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for t in range(3):  # natural order: img2 before img10
        cm = np.full(SHAPE, -1, np.int16)
        cm[disk((30, 20 + 8 * t), 7)] = 1
        cm[disk((70, 110 - 8 * t), 7)] = 1
        _image(folder, f"img{[1, 2, 10][t]}.png", cm)
    w = make_window(folder)
    d = _dialog(w, qtbot)
    # 10 px: img1 -> img2 -> img10 link (8 px steps), img1 -> img10 (16 px) would not
    _set_spin(qtbot, d.max_distance, 10)
    qtbot.mouseClick(d.track, Qt.LeftButton)
    qtbot.waitUntil(lambda: "2 track(s) over 3 images" in d.status.text(), timeout=10000)
    ids = [{c.bbox[1] < 50: c.object_id for c in load_labels(label_path(folder / f"img{n}.png"))} for n in (1, 2, 10)]
    assert ids[0] == ids[1] == ids[2] and sorted(ids[0].values()) == [1, 2]
    assert sorted(c.object_id for c in w.document.labels) == [1, 2]  # the open image shows them


def _answer(button) -> None:
    box = QApplication.activeModalWidget()
    assert isinstance(box, QMessageBox)
    box.button(button).click()


def test_use_as_stack_label_asks_keeps_per_frame_files_and_undoes_in_one_step(make_window, qtbot, tmp_path):
    folder, tif = _stack(tmp_path)
    before = {t: label_path(tif, t).read_bytes() for t in range(3)}
    w = make_window(folder)
    QTest.keyClick(w, Qt.Key_Period)
    assert w.frame == 1
    frame1 = [c.bbox for c in load_labels(label_path(tif, 1))]
    d = _dialog(w, qtbot)
    QTimer.singleShot(50, lambda: _answer(QMessageBox.No))
    qtbot.mouseClick(d.stack_label, Qt.LeftButton)
    assert not label_path(tif).exists() and label_path(tif, 0).exists()  # "No" changes nothing
    QTimer.singleShot(50, lambda: _answer(QMessageBox.Yes))
    qtbot.mouseClick(d.stack_label, Qt.LeftButton)
    assert [c.bbox for c in load_labels(label_path(tif))] == frame1
    assert not any(label_path(tif, t).exists() for t in range(3))
    assert all(kept_path(label_path(tif, t)).read_bytes() == before[t] for t in range(3))  # kept
    assert w.frame_slider.shared.isChecked() and w.document.path == label_path(tif)
    assert w.actions_postprocess.confirm_stack_label.isEnabled()
    _undo(w, qtbot)  # one undo: per-frame files back, no stack file
    assert {t: label_path(tif, t).read_bytes() for t in range(3)} == before
    assert not label_path(tif).exists() and not kept_path(label_path(tif, 0)).parent.exists()
    assert not w.frame_slider.shared.isChecked() and w.document.path == label_path(tif, 1)
    # again, then confirm: the replaced files are deleted
    QTest.keyClick(w, Qt.Key_Comma)
    QTimer.singleShot(50, lambda: _answer(QMessageBox.Yes))
    w.actions_postprocess.use_as_stack_label.trigger()
    assert label_path(tif).exists()
    w.actions_postprocess.confirm_stack_label.trigger()
    assert not kept_path(label_path(tif, 0)).parent.exists()
    assert not any(label_path(tif, t).exists() for t in range(3))
    assert not w.actions_postprocess.confirm_stack_label.isEnabled()
    assert w.session.is_shared(tif, 3)


def test_skeleton_screenshot(make_window, qtbot, tmp_path):
    cm = np.full(SHAPE, -1, np.int16)
    cm[disk((50, 40), 25)] = 1
    cm[15:25, 70:135] = 1
    cm[25:90, 115:125] = 1  # an L
    folder, _ = _folder(tmp_path, cm)
    w = make_window(folder)
    skel = w.postprocess.skeleton
    d = _dialog(w, qtbot)
    _tick(qtbot, d.skeleton)
    qtbot.waitUntil(lambda: skel.computations == 2 and skel.layer.pixels > 0, timeout=10000)
    w.grab().save("/tmp/results2-skeleton.png")
    _activate(w, qtbot)
    QTest.keyClick(w, Qt.Key_H, Qt.ControlModifier)  # View > Show contours off: the skeletons go too
    assert not skel.layer.item.isVisible()
    QTest.keyClick(w, Qt.Key_H, Qt.ControlModifier)
    assert skel.layer.item.isVisible()
    assert skel.layer.pixels == sum(len(v[1][0]) for v in skel.cache.values())
