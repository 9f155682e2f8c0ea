"""Keys, the wheel, stepping through images and frames, and the status bar readout."""

from __future__ import annotations

import cv2
import pytest
import tifffile
from PyQt5.QtCore import Qt
from PyQt5.QtTest import QTest

from mia_core.label_store import label_path, load_labels

from viewer_helpers import answer_next_question, wait_loaded


def test_f_keys_select_tools_and_space_toggles_drag(make_window, image_folder):
    w = make_window(image_folder)
    expected = {Qt.Key_F1: "drag", Qt.Key_F2: "draw", Qt.Key_F3: "poly", Qt.Key_F4: "assign",
                Qt.Key_F5: "expand", Qt.Key_F6: "delete", Qt.Key_F7: "dextr"}
    for key, name in expected.items():
        QTest.keyClick(w, key)
        assert w.tools.current.name == name
        assert w.toolbar.actions_by_tool[name].isChecked()
    # toolbar in F-key order, built from the registry
    assert list(w.toolbar.actions_by_tool) == list(expected.values())
    QTest.keyClick(w, Qt.Key_F5)
    QTest.keyClick(w, Qt.Key_Space)
    assert w.tools.current.name == "drag" and w.tools.navigates
    assert w.options.modes.checked_mode() == "navigate"
    QTest.keyClick(w, Qt.Key_Space)
    assert w.tools.current.name == "expand"
    assert w.options.size_slider.isEnabled()
    QTest.keyClick(w, Qt.Key_F4)
    QTest.keyClick(w, Qt.Key_Space)
    QTest.keyClick(w, Qt.Key_Space)
    assert w.tools.current.name == "assign"
    assert not w.options.size_slider.isEnabled()  # assign has no size


def test_wheel_zooms_only_in_the_drag_tool(make_window, mouse_for, image_folder):
    w = make_window(image_folder)
    mouse = mouse_for(w)
    QTest.keyClick(w, Qt.Key_F1)
    before = w.canvas.zoom()
    mouse.wheel(80, 60, 2)
    zoomed = w.canvas.zoom()
    assert zoomed > before * 1.1
    assert w.status.zoom.text() == f"zoom {zoomed * 100:.0f}%"
    mouse.wheel(80, 60, -2)
    assert w.canvas.zoom() < zoomed
    QTest.keyClick(w, Qt.Key_F2)
    level = w.canvas.zoom()
    mouse.wheel(80, 60, 3)
    assert w.canvas.zoom() == pytest.approx(level)
    QTest.keyClick(w, Qt.Key_0, Qt.ControlModifier)
    assert w.canvas.zoom() == pytest.approx(before, rel=0.02)


def test_pointer_maps_to_image_pixels_after_zoom(make_window, mouse_for, image_folder):
    w = make_window(image_folder)
    mouse = mouse_for(w)
    QTest.keyClick(w, Qt.Key_F1)
    mouse.wheel(30, 90, 3)
    ref = cv2.imread(str(image_folder / "a_blobs.png"), cv2.IMREAD_UNCHANGED)
    for x, y in [(30, 90), (25, 85), (40, 95)]:
        pos = w.canvas.image_to_widget(x, y)
        back = w.canvas.widget_to_image(pos)
        assert back == pytest.approx((x, y), abs=0.5)
        mouse.move(x, y)
        assert w.status.position.text() == f"x {x}, y {y}"
        assert w.status.value.text() == f"value {ref[y, x]}"


def test_page_keys_step_through_images(make_window, image_folder, qtbot):
    w = make_window(image_folder)
    assert w.image.path.name == "a_blobs.png"
    QTest.keyClick(w, Qt.Key_PageDown)
    wait_loaded(qtbot, w, "b_blobs.png")
    QTest.keyClick(w, Qt.Key_PageDown)
    wait_loaded(qtbot, w, "c_stack.tif")
    assert w.image.frames == 3 and w.frame_slider.isVisible()
    QTest.keyClick(w, Qt.Key_PageUp)
    wait_loaded(qtbot, w, "b_blobs.png")
    assert not w.frame_slider.isVisible()


def test_stack_per_frame_and_shared_labels(make_window, mouse_for, image_folder, qtbot):
    w = make_window(image_folder)
    w.image_list.select(image_folder / "c_stack.tif")
    wait_loaded(qtbot, w, "c_stack.tif")
    mouse = mouse_for(w)
    stack = tifffile.imread(image_folder / "c_stack.tif")
    QTest.keyClick(w, Qt.Key_F3)
    tif = image_folder / "c_stack.tif"

    def polygon(x0, y0, x1, y1):
        for x, y in [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]:
            mouse.click(x, y)
        mouse.click(x0, y1 + 3, Qt.RightButton)

    polygon(10, 10, 40, 40)
    assert [c.bbox[:2] for c in load_labels(label_path(tif, 0))] == [(10, 10)]
    QTest.keyClick(w, Qt.Key_Period)
    assert w.frame == 1 and w.frame_slider.label.text() == "2 / 3"
    assert w.canvas.contours.items == {}  # frame 1 has no labels yet
    mouse.move(5, 7)
    assert w.status.value.text() == f"value {stack[1, 7, 5]}"
    polygon(60, 50, 90, 80)
    assert [c.bbox[:2] for c in load_labels(label_path(tif, 1))] == [(60, 50)]
    assert [c.bbox[:2] for c in load_labels(label_path(tif, 0))] == [(10, 10)]
    w.frame_slider.slider.setValue(2)
    assert w.frame == 2 and not label_path(tif, 2).exists()
    QTest.keyClick(w, Qt.Key_Comma)
    QTest.keyClick(w, Qt.Key_Comma)
    assert w.frame == 0 and w.canvas.contours.classes == {1}
    # one label file for the whole stack: it asks first, since the frames' labels would be hidden
    asked: list[str] = []
    answer_next_question(qtbot, "Switch", asked)
    w.frame_slider.shared.click()
    assert asked and "2 frame(s) of c_stack.tif have their own labels" in asked[0]
    assert w.document.path == label_path(tif)
    polygon(70, 10, 100, 30)
    shared = load_labels(label_path(tif))
    assert [c.bbox[:2] for c in shared] == [(70, 10)]
    QTest.keyClick(w, Qt.Key_Period)
    assert w.document.path == label_path(tif)  # the same labels on every frame
    assert w.canvas.contours.classes == {1}
    assert w.image_list.state(tif) == "labelled"


def test_drag_tool_pans_and_middle_button_pans_in_any_tool(make_window, mouse_for, image_folder):
    w = make_window(image_folder)
    mouse = mouse_for(w)
    QTest.keyClick(w, Qt.Key_F1)
    mouse.wheel(80, 60, 3)  # zoom in so there is room to pan
    (x0, _), (y0, _) = w.canvas.view.viewRange()
    start, end = w.canvas.image_to_widget(80, 60), w.canvas.image_to_widget(60, 50)
    mid = (start + end) / 2
    mouse.drag_widget([start, mid, end])  # drag the image left and up
    (x1, _), (y1, _) = w.canvas.view.viewRange()
    zoom = w.canvas.zoom()
    # the view follows the pointer: the range moves by the widget distance dragged, in pixels
    assert x1 - x0 == pytest.approx((start.x() - end.x()) / zoom, abs=0.6)
    assert y1 - y0 == pytest.approx((start.y() - end.y()) / zoom, abs=0.6)
    assert x1 - x0 > 5
    assert not label_path(image_folder / "a_blobs.png").exists()
    QTest.keyClick(w, Qt.Key_F2)
    mouse.drag_widget([end, mid, start], Qt.MiddleButton)
    (x2, _), (y2, _) = w.canvas.view.viewRange()
    assert (x2, y2) == pytest.approx((x0, y0), abs=0.6)  # dragged back
    assert not label_path(image_folder / "a_blobs.png").exists()  # the draw tool got nothing


def test_mode_buttons_show_every_mode_and_set_it_like_a_right_click(make_window, image_folder, qtbot):
    w = make_window(image_folder)
    QTest.keyClick(w, Qt.Key_F2)
    buttons = w.options.modes.buttons()
    assert list(buttons) == ["add", "delete", "slice"] and all(b.isVisible() for b in buttons.values())
    qtbot.mouseClick(buttons["slice"], Qt.LeftButton)  # straight to slice, no cycling through delete
    assert w.tools.current.mode == "slice" and w.options.modes.checked_mode() == "slice"
    assert [b.isChecked() for b in buttons.values()] == [False, False, True]  # exclusive
    QTest.keyClick(w, Qt.Key_F1)
    (only,) = w.options.modes.buttons().values()
    assert only.text() == "navigate" and only.isChecked() and not only.isEnabled()  # drag has one mode


def test_keys_work_after_clicking_the_lists(make_window, image_folder, qtbot):
    w = make_window(image_folder)
    rect = w.image_list.list.visualItemRect(w.image_list.list.item(0))
    qtbot.mouseClick(w.image_list.list.viewport(), Qt.LeftButton, pos=rect.center())
    assert w.image_list.list.hasFocus()
    QTest.keyClick(w.image_list.list, Qt.Key_F2)
    QTest.keyClick(w.image_list.list, Qt.Key_Space)
    assert w.tools.current.name == "drag"
    rect = w.class_panel.list.visualItemRect(w.class_panel.list.item(0))
    qtbot.mouseClick(w.class_panel.list.viewport(), Qt.LeftButton, pos=rect.center())
    assert w.class_panel.active_class == 0
    QTest.keyClick(w.class_panel.list, Qt.Key_Space)
    assert w.tools.current.name == "draw"
    QTest.keyClick(w.class_panel.list, Qt.Key_1)
    assert w.class_panel.active_class == 1


def test_a_clashing_shortcut_of_another_tool_is_not_bound(qtbot):
    from mia_core.tool_base import BaseTool
    from mia_core.viewer.toolbar import ToolBar

    class Copycat(BaseTool):
        name, label, shortcut = "copycat", "Copycat tool", "F2"

    class Draw(BaseTool):
        name, label, shortcut = "draw", "Draw", "F2"

    bar = ToolBar()
    qtbot.addWidget(bar)
    bar.set_tools([Draw(), Copycat()])
    assert bar.actions_by_tool["draw"].shortcut().toString() == "F2"
    assert bar.actions_by_tool["copycat"].shortcut().isEmpty()
    assert "taken by another tool" in bar.actions_by_tool["copycat"].toolTip()
