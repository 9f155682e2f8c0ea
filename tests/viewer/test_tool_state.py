"""State that stays true, with real mouse, wheel and key events: the brush size under the wheel,
the size control only where it means something, a quick second click, and Inner contours
agreeing with the labels through undo and redo."""

from __future__ import annotations

from PyQt5.QtCore import Qt
from PyQt5.QtTest import QTest

from mia_core.label_store import label_path, load_labels


def test_wheel_scales_the_brush_in_proportion(make_window, mouse_for, image_folder):
    w = make_window(image_folder)
    mouse = mouse_for(w)
    QTest.keyClick(w, Qt.Key_F5)
    brush = w.tools.current
    zoom = w.canvas.zoom()
    w.options.size_slider.setValue(100)
    mouse.wheel(80, 60, 1)
    assert brush.size == 110  # +10 %
    mouse.wheel(80, 60, -2)
    assert brush.size == 91  # 110 / 1.1 / 1.1, rounded
    assert w.options.size_slider.value() == 91 and w.options.size_value.text() == "91 px"
    assert w.options.size_label.text().strip() == "Radius"
    w.options.size_slider.setValue(1)
    mouse.wheel(80, 60, 1)
    assert brush.size == 2  # at least a pixel a notch
    mouse.wheel(80, 60, 1)
    assert brush.size == 3
    assert w.canvas.zoom() == zoom
    assert w.canvas.preview.circle.rect().width() == 2 * brush.size  # the circle shows the new size


def test_size_control_shows_only_where_the_size_means_something(make_window, mouse_for, image_folder):
    w = make_window(image_folder)
    mouse = mouse_for(w)
    o = w.options
    inner_x = o.inner.mapTo(w, o.inner.rect().topLeft()).x()

    def shown() -> bool:
        return o.size_slider.isVisible() and o.size_label.isVisible()

    QTest.keyClick(w, Qt.Key_F5)
    assert shown()
    QTest.keyClick(w, Qt.Key_F2)  # freehand add: the stroke's outline is filled, no width
    assert not shown()
    mouse.click(5, 5, Qt.RightButton)
    assert w.tools.current.mode == "delete" and not shown()
    mouse.click(5, 5, Qt.RightButton)
    assert w.tools.current.mode == "slice" and shown()
    assert o.size_label.text().strip() == "Slice width"
    QTest.keyClick(w, Qt.Key_F4)
    assert not shown()
    QTest.keyClick(w, Qt.Key_F1)
    assert not shown()
    assert o.inner.mapTo(w, o.inner.rect().topLeft()).x() == inner_x  # the row did not jump


def double_click(mouse, qtbot, x, y, button, second=None) -> None:
    """Two quick clicks as a window system delivers them: the second press is a double-click."""
    qtbot.mouseClick(mouse.viewport, button, pos=mouse.at(x, y))
    pos = mouse.at(*(second or (x, y)))
    qtbot.mouseDClick(mouse.viewport, button, pos=pos)
    qtbot.mouseRelease(mouse.viewport, button, pos=pos)


def test_a_quick_second_click_is_not_swallowed(make_window, mouse_for, image_folder, qtbot):
    w = make_window(image_folder)
    mouse = mouse_for(w)
    QTest.keyClick(w, Qt.Key_F2)
    assert w.tools.current.mode == "add"
    double_click(mouse, qtbot, 5, 5, Qt.RightButton)
    assert w.tools.current.mode == "slice"  # add -> delete -> slice
    assert w.options.modes.checked_mode() == "slice"
    QTest.keyClick(w, Qt.Key_F3)
    assert w.tools.current.mode == "add"  # each tool keeps its own mode
    mouse.click(20, 20)
    double_click(mouse, qtbot, 60, 20, Qt.LeftButton, second=(62, 40))  # two corners, quickly
    mouse.move(62, 40)
    assert w.canvas.preview.area.path().elementCount() == 3  # (20, 20), (60, 20), (62, 40)


def test_inner_contours_box_labels_and_undo_agree(make_window, mouse_for, image_folder):
    w = make_window(image_folder)
    mouse = mouse_for(w)
    path = label_path(image_folder / "a_blobs.png")
    box = w.options.inner

    def holes() -> int:
        (c,) = load_labels(path).contours
        return len(c.holes)

    QTest.keyClick(w, Qt.Key_F3)
    for x, y in [(20, 20), (100, 20), (100, 100), (20, 100)]:
        mouse.click(x, y)
    mouse.click(5, 5, Qt.RightButton)
    mouse.click(5, 5, Qt.RightButton)  # -> delete
    for x, y in [(45, 45), (75, 45), (75, 75), (45, 75)]:
        mouse.click(x, y)
    mouse.click(5, 5, Qt.RightButton)
    assert holes() == 1 and box.isChecked()
    box.click()  # off: the hole is filled, one step
    assert holes() == 0 and not box.isChecked()
    QTest.keyClick(w, Qt.Key_Z, Qt.ControlModifier)  # undo the fill: the hole and the tick return
    assert holes() == 1 and box.isChecked() and w.settings.inner_contours
    assert w.document.inner_contours
    QTest.keyClick(w, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)  # redo: filled, unticked
    assert holes() == 0 and not box.isChecked() and not w.document.inner_contours
    # unticked, a delete polygon inside the contour cuts no hole: nothing changes on disk
    before = path.read_bytes()
    for x, y in [(45, 45), (75, 45), (75, 75), (45, 75)]:
        mouse.click(x, y)
    mouse.click(5, 5, Qt.RightButton)
    assert path.read_bytes() == before and holes() == 0
    # nor does an erase stroke with the brush
    QTest.keyClick(w, Qt.Key_F5)
    mouse.click(5, 5, Qt.RightButton)
    assert w.tools.current.mode == "erase"
    mouse.stroke([(50, 60), (70, 60)])
    assert path.read_bytes() == before
    # ticked again, the same delete stroke cuts the hole it asks for
    box.click()
    assert box.isChecked()
    QTest.keyClick(w, Qt.Key_F3)
    for x, y in [(45, 45), (75, 45), (75, 75), (45, 75)]:
        mouse.click(x, y)
    mouse.click(5, 5, Qt.RightButton)
    assert holes() == 1
