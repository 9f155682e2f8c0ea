"""Drawing with real mouse events on the canvas; every step is checked in the label file on disk."""

from __future__ import annotations

import numpy as np
import pytest
from PyQt5.QtCore import Qt
from PyQt5.QtTest import QTest
from skimage.draw import polygon as sk_polygon

from mia_core.label_store import label_path, load_labels

from viewer_helpers import IMAGE_SHAPE, square


def polygon_pixels(points) -> int:
    """Reference pixel count of a filled polygon (scikit-image, pixel centres inside)."""
    pts = np.asarray(points, dtype=float)
    rr, cc = sk_polygon(pts[:, 1], pts[:, 0], IMAGE_SHAPE)
    return len(rr)


def only_contours(path):
    return list(load_labels(path).contours)


def test_freehand_stroke_adds_a_contour_saved_at_once(make_window, mouse_for, image_folder):
    w = make_window(image_folder)
    mouse = mouse_for(w)
    QTest.keyClick(w, Qt.Key_F2)
    assert w.tools.current.name == "draw"
    assert w.toolbar.actions_by_tool["draw"].isChecked()
    path = label_path(image_folder / "a_blobs.png")
    assert not path.exists()
    pts = square(30, 20, 80, 70)
    mouse.stroke(pts)
    contours = only_contours(path)
    assert len(contours) == 1 and contours[0].class_id == 1
    expected = polygon_pixels(pts)
    assert abs(contours[0].pixel_count - expected) <= 0.06 * expected
    assert w.status.saved.text().startswith("saved")
    assert w.image_list.state(image_folder / "a_blobs.png") == "labelled"


def test_preview_follows_the_stroke_and_disappears_on_release(make_window, mouse_for, image_folder):
    w = make_window(image_folder)
    mouse = mouse_for(w)
    QTest.keyClick(w, Qt.Key_F2)
    mouse.press(10, 10)
    mouse.move(40, 10)
    mouse.move(40, 40)
    line = w.canvas.preview.line
    assert line.isVisible()
    rect = line.path().boundingRect()  # canvas units: pixel centres sit at +0.5
    assert rect.left() == pytest.approx(10.5, abs=0.5) and rect.right() == pytest.approx(40.5, abs=0.5)
    mouse.release(10, 40)
    assert not line.isVisible()


def test_polygon_close_on_right_click_then_slice_in_two(make_window, mouse_for, image_folder):
    w = make_window(image_folder)
    mouse = mouse_for(w)
    QTest.keyClick(w, Qt.Key_F3)
    poly = w.tools.current
    assert poly.name == "poly" and w.options.modes.checked_mode() == "add"
    path = label_path(image_folder / "a_blobs.png")
    corners = [(20, 20), (100, 20), (100, 80), (20, 80)]
    for x, y in corners:
        mouse.click(x, y)
    assert not path.exists()  # nothing committed while the polygon is open
    assert w.canvas.preview.line.isVisible()
    mouse.click(60, 90, Qt.RightButton)  # closes the polygon, does not toggle the mode
    assert w.options.modes.checked_mode() == "add"
    contours = only_contours(path)
    assert len(contours) == 1
    expected = polygon_pixels(corners)
    assert abs(contours[0].pixel_count - expected) <= 0.03 * expected
    # no polygon in progress: right clicks toggle the mode, shown in the tool bar
    mouse.click(60, 90, Qt.RightButton)
    assert w.options.modes.checked_mode() == "delete"
    mouse.click(60, 90, Qt.RightButton)
    assert w.options.modes.checked_mode() == "slice" and poly.mode == "slice"
    mouse.click(60, 5)
    mouse.click(60, 100)
    mouse.click(60, 110, Qt.RightButton)  # commits the slice line
    halves = only_contours(path)
    assert len(halves) == 2
    assert all(c.class_id == 1 for c in halves)
    xs = sorted(c.bbox[0] for c in halves)
    assert xs[0] == 20 and 58 <= xs[1] <= 63
    assert sum(c.pixel_count for c in halves) < contours[0].pixel_count


def capsule(shape, p0, p1, r):
    """Reference brush mask: pixels within r of the segment p0-p1 (numpy geometry)."""
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]].astype(float)
    (x0, y0), (x1, y1) = p0, p1
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((xx - x0) * dx + (yy - y0) * dy) / (dx * dx + dy * dy), 0, 1)
    return (xx - x0 - t * dx) ** 2 + (yy - y0 - t * dy) ** 2 <= r * r


def test_brush_expand_and_erase_with_wheel_sized_brush(make_window, mouse_for, image_folder):
    w = make_window(image_folder)
    mouse = mouse_for(w)
    QTest.keyClick(w, Qt.Key_F5)
    brush = w.tools.current
    assert brush.name == "expand" and w.options.modes.checked_mode() == "expand"
    start = brush.size
    zoom = w.canvas.zoom()
    mouse.wheel(80, 60, 3)
    assert brush.size == start + 3
    assert w.options.size_slider.value() == brush.size  # the slider follows the wheel
    mouse.wheel(80, 60, -1)
    assert brush.size == start + 2 == w.options.size_slider.value()
    assert w.canvas.zoom() == pytest.approx(zoom)  # the wheel did not zoom
    assert w.canvas.preview.circle.isVisible()
    assert w.canvas.preview.circle.rect().width() == pytest.approx(2 * brush.size)
    radius = brush.size
    path = label_path(image_folder / "a_blobs.png")
    mouse.stroke([(30, 60), (60, 60), (90, 60), (120, 60)])
    painted = only_contours(path)
    assert len(painted) == 1
    ref = capsule(IMAGE_SHAPE, (30, 60), (120, 60), radius)
    assert abs(painted[0].pixel_count - ref.sum()) <= 0.05 * ref.sum()
    # right click: erase mode; the slider moves the brush size too
    mouse.click(10, 10, Qt.RightButton)
    assert brush.mode == "erase" and w.options.modes.checked_mode() == "erase"
    w.options.size_slider.setValue(6)
    assert brush.size == 6
    mouse.stroke([(75, 30), (75, 60), (75, 95)])
    parts = only_contours(path)
    assert len(parts) == 2  # erased through the middle
    erased = ref & ~capsule(IMAGE_SHAPE, (75, 30), (75, 95), 6)
    total = sum(c.pixel_count for c in parts)
    assert abs(total - erased.sum()) <= 0.06 * erased.sum()


def test_assign_and_delete_by_clicking(make_window, mouse_for, image_folder):
    w = make_window(image_folder)
    mouse = mouse_for(w)
    path = label_path(image_folder / "a_blobs.png")
    QTest.keyClick(w, Qt.Key_F3)
    for x, y in [(20, 20), (60, 20), (60, 60), (20, 60)]:
        mouse.click(x, y)
    mouse.click(40, 40, Qt.RightButton)
    for x, y in [(90, 30), (140, 30), (140, 90), (90, 90)]:
        mouse.click(x, y)
    mouse.click(100, 100, Qt.RightButton)
    assert [c.class_id for c in only_contours(path)] == [1, 1]
    w.class_panel.add_class("nucleus")
    QTest.keyClick(w, Qt.Key_2)
    assert w.class_panel.active_class == 2
    QTest.keyClick(w, Qt.Key_F4)
    assert w.tools.current.name == "assign"
    mouse.click(40, 40)
    by_x = {c.bbox[0]: c.class_id for c in only_contours(path)}
    assert by_x == {20: 2, 90: 1}
    QTest.keyClick(w, Qt.Key_F6)
    mouse.click(115, 60)
    remaining = only_contours(path)
    assert len(remaining) == 1 and remaining[0].class_id == 2
    mouse.click(40, 40)
    assert not path.exists()  # empty labels remove the file
    assert w.image_list.state(image_folder / "a_blobs.png") == "unlabelled"


def test_undo_redo_and_reset_with_confirmation(make_window, mouse_for, image_folder, qtbot):
    from PyQt5.QtCore import QTimer
    from PyQt5.QtWidgets import QApplication, QMessageBox

    w = make_window(image_folder)
    mouse = mouse_for(w)
    path = label_path(image_folder / "a_blobs.png")
    QTest.keyClick(w, Qt.Key_F2)
    mouse.stroke(square(10, 10, 40, 40))
    mouse.stroke(square(80, 50, 120, 90))
    assert len(only_contours(path)) == 2
    QTest.keyClick(w, Qt.Key_Z, Qt.ControlModifier)
    assert len(only_contours(path)) == 1
    QTest.keyClick(w, Qt.Key_Z, Qt.ControlModifier)
    assert not path.exists()
    assert not w.actions_.undo.isEnabled()
    QTest.keyClick(w, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert len(only_contours(path)) == 1
    QTest.keyClick(w, Qt.Key_Y, Qt.ControlModifier)
    assert len(only_contours(path)) == 2
    assert len(w.canvas.contours.items) == 2  # the canvas shows what is on disk
    assert not w.actions_.redo.isEnabled()

    answers = []

    def answer(button) -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox)
        answers.append(box.text())
        box.button(button).click()

    QTimer.singleShot(50, lambda: answer(QMessageBox.No))
    w.actions_.reset.trigger()
    assert len(only_contours(path)) == 2  # "No" keeps everything
    QTimer.singleShot(50, lambda: answer(QMessageBox.Yes))
    w.actions_.reset.trigger()
    assert not path.exists()
    assert "2 contour(s)" in answers[0]
    w.activateWindow()  # the offscreen platform does not give focus back after a dialog
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w)
    QTest.keyClick(w, Qt.Key_Z, Qt.ControlModifier)
    assert len(only_contours(path)) == 2


def test_inner_contours_switch_fills_holes_at_once(make_window, mouse_for, image_folder):
    w = make_window(image_folder)
    mouse = mouse_for(w)
    path = label_path(image_folder / "a_blobs.png")
    QTest.keyClick(w, Qt.Key_F3)
    for x, y in [(20, 20), (100, 20), (100, 100), (20, 100)]:
        mouse.click(x, y)
    mouse.click(5, 5, Qt.RightButton)
    mouse.click(5, 5, Qt.RightButton)  # -> delete mode
    for x, y in [(45, 45), (75, 45), (75, 75), (45, 75)]:
        mouse.click(x, y)
    mouse.click(5, 5, Qt.RightButton)
    (ring,) = only_contours(path)
    assert len(ring.holes) == 1
    w.options.inner.click()
    (filled,) = only_contours(path)
    assert filled.holes == ()
    # The filled square covers what the outer polygon covers (the click positions round to pixels).
    assert abs(filled.pixel_count - polygon_pixels([(20, 20), (100, 20), (100, 100), (20, 100)])) <= 200
    assert w.settings.inner_contours is False


def test_mark_all_background_labels_the_whole_image_class_0(make_window, mouse_for, image_folder, qtbot):
    from PyQt5.QtCore import QTimer
    from PyQt5.QtWidgets import QApplication, QMessageBox

    w = make_window(image_folder)
    path = label_path(image_folder / "a_blobs.png")
    assert not path.exists()
    w.actions_.all_background.trigger()
    class_map = load_labels(path).to_class_map(IMAGE_SHAPE)
    np.testing.assert_array_equal(class_map, np.zeros(IMAGE_SHAPE, np.int16))  # every pixel, class 0
    QTest.keyClick(w, Qt.Key_Z, Qt.ControlModifier)
    assert not path.exists()  # one undo step

    QTest.keyClick(w, Qt.Key_F2)
    mouse_for(w).stroke(square(10, 10, 40, 40))
    assert only_contours(path)[0].class_id != 0

    def answer() -> None:
        box = QApplication.activeModalWidget()
        assert isinstance(box, QMessageBox) and "1 contour(s)" in box.text()
        box.button(QMessageBox.Yes).click()

    QTimer.singleShot(50, answer)
    w.actions_.all_background.trigger()  # drawn contours are replaced only after asking
    assert [c.class_id for c in only_contours(path)] == [0]
    w.activateWindow()
