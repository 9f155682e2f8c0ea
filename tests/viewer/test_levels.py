"""Display levels: the histogram's min/max region dragged with the mouse, typed values, Auto and
Reset reach the image item; levels are remembered per image; 16-bit and float images alike."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from PyQt5.QtCore import QPoint, QPointF, Qt
from PyQt5.QtGui import QMouseEvent
from PyQt5.QtTest import QTest
from PyQt5.QtWidgets import QApplication

from mia_core.images import read_image

from viewer_helpers import wait_loaded


def image_levels(w) -> tuple[float, float]:
    return tuple(float(v) for v in w.canvas.image_item.levels)


def value_to_widget(w, value: float) -> QPoint:
    """Where a value of the histogram's axis is in the histogram widget (half-way up)."""
    item = w.levels.histogram.item
    (_x0, _x1), (y0, y1) = item.vb.viewRange()
    scene = item.vb.mapViewToScene(QPointF(value, (y0 + y1) / 2))
    return w.levels.histogram.mapFromScene(scene)


def drag(qtbot, widget, points: list[QPoint]) -> None:
    """Press, move through ``points`` with pauses (pyqtgraph drops too-fast moves), release."""
    viewport = widget.viewport()
    qtbot.mousePress(viewport, Qt.LeftButton, pos=points[0])
    for pos in points[1:]:
        QTest.qWait(30)
        QApplication.sendEvent(viewport, QMouseEvent(QMouseEvent.MouseMove, QPointF(pos), Qt.NoButton,
                                                     Qt.LeftButton, Qt.NoModifier))
    qtbot.mouseRelease(viewport, Qt.LeftButton, pos=points[-1])


def type_into(qtbot, box, text: str) -> None:
    qtbot.mouseClick(box.lineEdit(), Qt.LeftButton)
    QTest.keyClick(box.lineEdit(), Qt.Key_A, Qt.ControlModifier)
    QTest.keyClicks(box.lineEdit(), text)
    QTest.keyClick(box.lineEdit(), Qt.Key_Return)


def test_histogram_drag_typed_values_auto_and_reset_set_the_levels_of_a_16_bit_image(
        make_window, image_folder, qtbot):
    w = make_window(image_folder)
    w.image_list.select(image_folder / "c_stack.tif")
    wait_loaded(qtbot, w, "c_stack.tif")
    stack = read_image(image_folder / "c_stack.tif")
    frame = stack[0]
    full = (float(stack.min()), float(stack.max()))
    assert image_levels(w) == pytest.approx(full) and w.levels.levels == pytest.approx(full)
    # the histogram is the frame's, in 256 bins over its range (log counts)
    x, y = w.levels.histogram.item.plot.getData()
    counts, edges = np.histogram(frame, bins=256, range=(float(frame.min()), float(frame.max())))
    np.testing.assert_allclose(x, (edges[:-1] + edges[1:]) / 2)
    np.testing.assert_allclose(y, np.log10(1 + counts))

    # drag the min line from the image's minimum to 30 % of its range
    target = full[0] + 0.3 * (full[1] - full[0])
    start, end = value_to_widget(w, full[0]), value_to_widget(w, target)
    path = [start + QPoint(0, 0)] + [QPoint(start.x() + (end.x() - start.x()) * k // 6, start.y()) for k in range(1, 7)]
    drag(qtbot, w.levels.histogram, path)
    one_pixel = (full[1] - full[0]) / w.levels.histogram.width() * 1.1
    lo, hi = image_levels(w)
    assert lo == pytest.approx(target, abs=3 * one_pixel) and hi == pytest.approx(full[1])
    assert w.levels.min_box.value() == pytest.approx(lo, abs=1)

    # type both ends
    type_into(qtbot, w.levels.max_box, "40000")
    type_into(qtbot, w.levels.min_box, "1200")
    assert image_levels(w) == (1200.0, 40000.0)
    lo_line, hi_line = w.levels.region.getRegion()
    assert (lo_line, hi_line) == (1200.0, 40000.0)
    type_into(qtbot, w.levels.min_box, "50000")  # past the max: the max moves along
    assert image_levels(w) == (50000.0, 50000.0 + 38800.0)

    # Auto: the 0.2th and 99.8th percentiles of the frame; Reset: the image's range
    qtbot.mouseClick(w.levels.auto_button, Qt.LeftButton)
    assert image_levels(w) == pytest.approx(tuple(np.percentile(frame, (0.2, 99.8))))
    qtbot.mouseClick(w.levels.reset_button, Qt.LeftButton)
    assert image_levels(w) == pytest.approx(full)

    # levels are the image's, not the frame's: the next frame keeps them, its histogram is its own
    type_into(qtbot, w.levels.min_box, "3000")
    QTest.keyClick(w, Qt.Key_Period)
    assert w.frame == 1 and image_levels(w)[0] == 3000.0
    _x, y1 = w.levels.histogram.item.plot.getData()
    counts1, _ = np.histogram(stack[1], bins=256, range=(float(stack[1].min()), float(stack[1].max())))
    np.testing.assert_allclose(y1, np.log10(1 + counts1))
    QTest.qWait(20)
    w.grab().save("/tmp/ux-look-histogram.png")


def test_levels_are_remembered_per_image_for_the_session(make_window, image_folder, qtbot):
    w = make_window(image_folder)
    assert image_levels(w) == (0.0, 255.0)
    type_into(qtbot, w.levels.max_box, "120")
    assert image_levels(w) == (0.0, 120.0)
    w.image_list.select(image_folder / "c_stack.tif")
    wait_loaded(qtbot, w, "c_stack.tif")
    stack = read_image(image_folder / "c_stack.tif")
    assert image_levels(w) == pytest.approx((float(stack.min()), float(stack.max())))  # its own range
    type_into(qtbot, w.levels.min_box, "2500")
    w.image_list.select(image_folder / "a_blobs.png")
    wait_loaded(qtbot, w, "a_blobs.png")
    assert image_levels(w) == (0.0, 120.0)
    w.image_list.select(image_folder / "c_stack.tif")
    wait_loaded(qtbot, w, "c_stack.tif")
    assert image_levels(w)[0] == 2500.0


def test_a_float_image_gets_fractional_levels(make_window, tmp_path, qtbot):
    folder = tmp_path / "floats"
    folder.mkdir()
    rng = np.random.default_rng(3)
    data = rng.uniform(-1.0, 0.5, (64, 80)).astype(np.float32)
    data[3, 4] = np.nan  # not a value: left out of the histogram and the levels
    tifffile.imwrite(folder / "f.tif", data)
    w = make_window(folder)
    finite = data[np.isfinite(data)]
    assert image_levels(w) == pytest.approx((float(finite.min()), float(finite.max())), abs=1e-6)
    assert w.levels.min_box.decimals() >= 3
    type_into(qtbot, w.levels.max_box, "0.25")
    assert image_levels(w)[1] == pytest.approx(0.25)
    qtbot.mouseClick(w.levels.auto_button, Qt.LeftButton)
    assert image_levels(w) == pytest.approx(tuple(np.percentile(finite, (0.2, 99.8))), rel=1e-5)
    x, y = w.levels.histogram.item.plot.getData()
    assert np.isfinite(x).all() and np.isfinite(y).all() and len(x) == 256
