"""The live stroke preview, driven with real mouse events: what the canvas paints while a brush,
freehand or polygon edit is still in progress (the swath at the brush size, the polygon's area).

Pictures are grabbed from the canvas and saved to $MIA_SCREENSHOTS when it is set.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from PyQt5.QtCore import Qt
from PyQt5.QtGui import QImage
from PyQt5.QtTest import QTest

from mia_core.label_store import label_path


def as_array(image: QImage) -> np.ndarray:
    """A grabbed picture as an (H, W, 3) int RGB array."""
    image = image.convertToFormat(QImage.Format_RGB888)
    h, w, bpl = image.height(), image.width(), image.bytesPerLine()
    buf = np.frombuffer(image.constBits().asstring(h * bpl), np.uint8).reshape(h, bpl)
    return buf[:, : w * 3].reshape(h, w, 3).astype(int)


def grab(w, name: str | None = None) -> np.ndarray:
    """The canvas as the user sees it now (saved under $MIA_SCREENSHOTS as ``name``)."""
    QTest.qWait(5)
    pix = w.canvas.viewport().grab()
    out = os.environ.get("MIA_SCREENSHOTS")
    if out and name:
        Path(out).mkdir(parents=True, exist_ok=True)
        pix.save(str(Path(out) / f"{name}.png"))
        w.grab().save(str(Path(out) / f"{name}_window.png"))
    return as_array(pix.toImage())


def rgb(colour) -> np.ndarray:
    return np.array([colour.red(), colour.green(), colour.blue()])


def changed_rows(before: np.ndarray, after: np.ndarray, col: int) -> np.ndarray:
    """Viewport rows where the picture changed in one column."""
    return np.nonzero(np.abs(after[:, col] - before[:, col]).max(axis=-1) > 12)[0]


def test_brush_swath_is_painted_live_at_the_brush_size(make_window, mouse_for, image_folder):
    w = make_window(image_folder)
    mouse = mouse_for(w)
    QTest.keyClick(w, Qt.Key_F5)
    brush = w.tools.current
    w.options.size_slider.setValue(10)
    assert brush.size == 10
    mouse.move(5, 5)
    before = grab(w)
    mouse.press(30, 60)
    mouse.move(60, 60)
    mouse.move(90, 60)
    swath = w.canvas.preview.swath
    assert swath.isVisible() and not w.canvas.preview.line.isVisible()
    area = swath.painted_area().boundingRect()  # the painted area, canvas units
    assert area.height() == pytest.approx(2 * brush.size, abs=0.2)  # the brush's diameter
    assert area.width() == pytest.approx(60 + 2 * brush.size, abs=0.2)  # round ends
    class_colour = w.canvas.contours.colour(w.class_panel.active_class)
    assert rgb(swath.pen().color()).tolist() == rgb(class_colour).tolist()
    assert 0 < swath.pen().color().alpha() < 255  # the image stays visible under it
    during = grab(w, "ux-strokes-brush-mid-drag")
    zoom = w.canvas.zoom()
    col = w.canvas.image_to_widget(75, 60).x()
    rows = changed_rows(before, during, col)
    assert abs(len(rows) - 2 * brush.size * zoom) <= 3  # the band on screen is the brush wide
    band = during[rows, col] - before[rows, col]
    towards = rgb(class_colour) - before[rows, col]
    assert (band * towards).sum(axis=-1).mean() > 0  # tinted towards the class colour
    assert not label_path(image_folder / "a_blobs.png").exists()  # nothing is edited yet
    mouse.release(90, 60)
    assert not swath.isVisible()
    assert label_path(image_folder / "a_blobs.png").exists()


def test_erase_swath_looks_unlike_painting(make_window, mouse_for, image_folder):
    w = make_window(image_folder)
    mouse = mouse_for(w)
    QTest.keyClick(w, Qt.Key_F5)
    w.options.size_slider.setValue(12)
    mouse.move(5, 5)
    before = grab(w)
    mouse.press(30, 60)
    mouse.move(110, 60)
    painting = grab(w)
    mouse.release(110, 60)
    QTest.keyClick(w, Qt.Key_Z, Qt.ControlModifier)
    mouse.click(5, 5, Qt.RightButton)
    assert w.tools.current.mode == "erase"
    mouse.move(5, 5)
    before = grab(w)
    mouse.press(30, 60)
    mouse.move(110, 60)
    swath = w.canvas.preview.swath
    assert swath.erase and swath.isVisible()
    assert swath.painted_area().boundingRect().height() == pytest.approx(24, abs=0.2)
    erasing = grab(w, "ux-strokes-erase-mid-drag")
    x0, x1 = w.canvas.image_to_widget(50, 60).x(), w.canvas.image_to_widget(90, 60).x()
    rows = np.nonzero((np.abs(erasing[:, x0:x1] - before[:, x0:x1]).max(axis=-1) > 12).any(axis=1))[0]
    assert abs(rows.max() - rows.min() + 1 - 24 * w.canvas.zoom()) <= 4  # the hatched band, outline included
    y0, y1 = rows.min() + 3, rows.max() - 3
    diff = erasing[y0:y1, x0:x1] - before[y0:y1, x0:x1]
    assert (diff.max(axis=-1) > 60).mean() > 0.05  # white hatching
    assert (diff.max(axis=-1) < 0).mean() > 0.3  # and darkened between the hatches
    assert np.abs(erasing[y0:y1, x0:x1] - painting[y0:y1, x0:x1]).mean() > 20
    mouse.release(110, 60)


def test_polygon_shows_its_filled_area_before_closing(make_window, mouse_for, image_folder):
    w = make_window(image_folder)
    mouse = mouse_for(w)
    QTest.keyClick(w, Qt.Key_F3)
    mouse.move(5, 5)
    before = grab(w)
    for x, y in [(20, 20), (100, 20), (100, 90)]:
        mouse.click(x, y)
    mouse.move(20, 90)  # the fourth corner, not clicked yet
    area = w.canvas.preview.area
    assert area.isVisible()
    rect = area.path().boundingRect()
    # canvas units, pixel centres at +0.5; the mouse lands on whole screen pixels
    assert (rect.left(), rect.top(), rect.right(), rect.bottom()) == pytest.approx((20.5, 20.5, 100.5, 90.5), abs=0.3)
    class_colour = w.canvas.contours.colour(w.class_panel.active_class)
    fill = area.brush().color()
    assert rgb(fill).tolist() == rgb(class_colour).tolist() and 0 < fill.alpha() < 255
    shown = grab(w, "ux-strokes-polygon-before-close")
    inside = w.canvas.image_to_widget(40, 75)  # under the edge from the cursor, not clicked
    outside = w.canvas.image_to_widget(130, 100)
    d_in = shown[inside.y(), inside.x()] - before[inside.y(), inside.x()]
    assert np.dot(d_in, rgb(class_colour) - before[inside.y(), inside.x()]) > 0
    assert np.abs(shown[outside.y(), outside.x()] - before[outside.y(), outside.x()]).max() <= 2
    assert not label_path(image_folder / "a_blobs.png").exists()
    # delete mode: the area it will cut is dark with a dashed outline, not the class colour
    w.escape()
    mouse.click(5, 5, Qt.RightButton)
    assert w.tools.current.mode == "delete"
    for x, y in [(20, 20), (100, 20), (100, 90)]:
        mouse.click(x, y)
    assert area.isVisible() and area.brush().color().alpha() > 0
    assert rgb(area.brush().color()).tolist() != rgb(class_colour).tolist()
    assert w.canvas.preview.line.pen().style() == Qt.DashLine


def test_slice_preview_is_as_wide_as_the_slice(make_window, mouse_for, image_folder):
    w = make_window(image_folder)
    mouse = mouse_for(w)
    QTest.keyClick(w, Qt.Key_F2)
    for _ in range(2):
        mouse.click(5, 5, Qt.RightButton)
    draw = w.tools.current
    assert draw.mode == "slice"
    w.options.size_slider.setValue(6)
    mouse.press(20, 30)
    mouse.move(60, 30)
    swath = w.canvas.preview.swath
    assert swath.isVisible() and swath.erase
    assert swath.painted_area().boundingRect().height() == pytest.approx(6, abs=0.2)
    assert not w.canvas.preview.area.isVisible()
    mouse.release(60, 30)
    assert not swath.isVisible()


def test_freehand_add_fills_the_enclosed_area_while_drawing(make_window, mouse_for, image_folder):
    w = make_window(image_folder)
    mouse = mouse_for(w)
    QTest.keyClick(w, Qt.Key_F2)
    mouse.press(20, 20)
    for x, y in [(60, 20), (60, 60), (20, 60)]:
        mouse.move(x, y)
    area = w.canvas.preview.area
    assert area.isVisible()
    assert area.path().boundingRect().width() == pytest.approx(40, abs=0.3)
    assert area.path().elementCount() == 4  # extended point by point, not rebuilt with extra points
    mouse.release(20, 60)
    assert not area.isVisible()
