"""Screenshots of the main states (``widget.grab()``), saved to $MIA_SCREENSHOTS for a reviewer.

Without the variable the pictures are still taken and checked: the drawn contour must show in its
class colour where it was drawn.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PyQt5.QtCore import Qt
from PyQt5.QtGui import QColor, QImage
from PyQt5.QtTest import QTest


def as_array(image: QImage) -> np.ndarray:
    """A grabbed picture as an (H, W, 3) uint8 RGB array."""
    image = image.convertToFormat(QImage.Format_RGB888)
    h, w, bpl = image.height(), image.width(), image.bytesPerLine()
    buf = np.frombuffer(image.constBits().asstring(h * bpl), np.uint8).reshape(h, bpl)
    return buf[:, : w * 3].reshape(h, w, 3).copy()


def near(arr: np.ndarray, colour: str, tol: int = 40) -> np.ndarray:
    c = QColor(colour)
    ref = np.array([c.red(), c.green(), c.blue()])
    return np.abs(arr.astype(int) - ref).max(axis=-1) <= tol


def test_screenshots_of_main_states(make_window, mouse_for, image_folder, registry, qtbot, tmp_path):
    out = Path(os.environ.get("MIA_SCREENSHOTS") or tmp_path / "shots")
    out.mkdir(parents=True, exist_ok=True)
    w = make_window(image_folder)
    mouse = mouse_for(w)

    def shot(name: str, widget=None) -> np.ndarray:
        QTest.qWait(10)
        pix = (widget or w).grab()
        assert pix.save(str(out / f"{name}.png"))
        return as_array(pix.toImage())

    shot("01_opened")
    QTest.keyClick(w, Qt.Key_F3)
    for x, y in [(20, 20), (100, 20), (100, 100), (20, 100)]:
        mouse.click(x, y)
    mouse.click(5, 5, Qt.RightButton)
    mouse.click(5, 5, Qt.RightButton)  # delete mode: cut a hole
    for x, y in [(40, 35), (70, 35), (70, 65), (40, 65)]:
        mouse.click(x, y)
    mouse.click(5, 5, Qt.RightButton)
    mouse.click(5, 5, Qt.RightButton)
    mouse.click(5, 5, Qt.RightButton)  # back to add
    w.class_panel.add_class("nucleus")
    QTest.keyClick(w, Qt.Key_2)
    QTest.keyClick(w, Qt.Key_F2)
    mouse.stroke([(115, 30), (150, 30), (150, 70), (115, 70), (115, 30)])
    canvas = shot("02_contours_two_classes", w.canvas)
    # inside the class-1 polygon, away from the blobs' bright pixels, the fill tints the image
    # with class 1's colour; the outline runs along its edge
    edge = w.canvas.image_to_widget(60, 20)
    ring = canvas[edge.y() - 2 : edge.y() + 3, edge.x() - 3 : edge.x() + 4]
    assert near(ring, w.class_panel.classes[1].colour).any()
    edge2 = w.canvas.image_to_widget(150, 50)
    ring2 = canvas[edge2.y() - 3 : edge2.y() + 4, edge2.x() - 2 : edge2.x() + 3]
    assert near(ring2, w.class_panel.classes[2].colour).any()
    # the hole is a hole: no tint inside it, class 1's tint around it
    def redness(x, y):
        p = w.canvas.image_to_widget(x, y)
        patch = canvas[p.y() - 3 : p.y() + 4, p.x() - 3 : p.x() + 4].astype(int)
        return float((patch[..., 0] - patch[..., 1]).mean())

    assert redness(55, 50) < 5 < 15 < redness(30, 80)
    outside = w.canvas.image_to_widget(10, 110)
    assert not near(canvas[outside.y() - 2 : outside.y() + 3, outside.x() - 2 : outside.x() + 3],
                    w.class_panel.classes[1].colour).any()

    # a polygon in progress and the brush cursor
    QTest.keyClick(w, Qt.Key_F3)
    QTest.keyClick(w, Qt.Key_1)
    for x, y in [(30, 105), (70, 110)]:
        mouse.click(x, y)
    mouse.move(50, 115)
    shot("03_polygon_in_progress")
    QTest.keyClick(w, Qt.Key_Escape)
    QTest.keyClick(w, Qt.Key_F5)
    mouse.move(60, 60)
    shot("04_brush_cursor")
    # a stack with its frame slider, and an unreadable file
    w.image_list.select(image_folder / "c_stack.tif")
    from viewer_helpers import wait_loaded

    wait_loaded(qtbot, w, "c_stack.tif")
    shot("05_stack")
    w.image_list.select(image_folder / "d_broken.png")
    qtbot.waitUntil(lambda: w.image is None and not w.loader.busy)
    shot("06_unreadable_file")
    assert (out / "06_unreadable_file.png").stat().st_size > 0


def test_screenshot_of_the_plugin_errors_dialog(make_window, image_folder, tmp_path, monkeypatch):
    import importlib.metadata

    from mia_core.plugins import load_plugins

    out = Path(os.environ.get("MIA_SCREENSHOTS") or tmp_path / "shots")
    out.mkdir(parents=True, exist_ok=True)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "shot_broken_plugin.py").write_text("import a_module_that_is_not_installed\n")
    from viewer_helpers import builtin_entry_points

    eps = builtin_entry_points()
    bad = importlib.metadata.EntryPoint(name="broken", value="shot_broken_plugin", group="mia")
    w = make_window(image_folder, load_plugins(disabled=(), entry_points=eps + [bad]))
    QTest.qWait(20)
    assert w.plugin_dialog is not None
    assert w.plugin_dialog.grab().save(str(out / "07_plugin_errors.png"))
    assert "No module named 'a_module_that_is_not_installed'" in w.plugin_dialog.details.toPlainText()
    assert w.grab().save(str(out / "08_window_with_plugin_warning.png"))
