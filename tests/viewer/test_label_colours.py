"""How labels are drawn: a colour-blind-safe palette, kept folder colours, subdued background,
opacity, outlines only, per-class visibility, and touching contours of one class told apart."""

from __future__ import annotations

import json

import numpy as np
from PyQt5.QtCore import QPoint, QPointF, Qt
from PyQt5.QtGui import QColor, QMouseEvent
from PyQt5.QtTest import QTest
from PyQt5.QtWidgets import QApplication, QStyle, QStyleOptionSlider

from mia_core.label_store import label_path, save_labels
from mia_core.labels import Contour, LabelSet
from mia_core.viewer.settings import classes_path

from test_screenshots import as_array, near
from viewer_helpers import square

#: Okabe & Ito (2008), "Color Universal Design": orange, sky blue, bluish green, yellow, blue,
#: vermillion, reddish purple (their black is left out: it vanishes on dark images).
OKABE_ITO = ["#e69f00", "#56b4e9", "#009e73", "#f0e442", "#0072b2", "#d55e00", "#cc79a7"]


def items_of(w, class_id):
    return [item for c, item in w.canvas.contours.items.values() if c.class_id == class_id]


def rgb(colour: str) -> np.ndarray:
    c = QColor(colour)
    return np.array([c.red(), c.green(), c.blue()])


def test_new_classes_take_the_okabe_ito_colours_then_lighter_and_darker_turns(make_window, mouse_for,
                                                                               image_folder, qtbot):
    w = make_window(image_folder)
    panel = w.class_panel
    for _ in range(20):
        qtbot.mouseClick(panel.add_button, Qt.LeftButton)
    colours = panel.colours()
    assert len(colours) == 22
    assert colours[0] == "#d0d0d0"  # background: neutral grey
    assert colours[1:8] == OKABE_ITO
    white, black = np.array([255, 255, 255]), np.array([0, 0, 0])
    for k in range(7):  # 8-14 half-way to white, 15-21 a third of the way to black
        assert np.abs(rgb(colours[8 + k]) - (rgb(OKABE_ITO[k]) + white) / 2).max() <= 1
        assert np.abs(rgb(colours[15 + k]) - (2 * rgb(OKABE_ITO[k]) + black) / 3).max() <= 1
    assert len(set(colours)) == 22
    # the file keeps them, and a contour drawn in class 2 is outlined in its colour
    saved = json.loads(classes_path(image_folder).read_text())["classes"]
    assert [c["colour"] for c in saved] == colours
    QTest.keyClick(w, Qt.Key_2)
    QTest.keyClick(w, Qt.Key_F2)
    mouse_for(w).stroke(square(20, 20, 50, 50))
    (item,) = items_of(w, 2)
    assert item.pen().color().name() == "#56b4e9"


def test_colours_saved_in_a_folders_classes_json_stay(make_window, mouse_for, image_folder, qtbot):
    path = classes_path(image_folder)
    path.parent.mkdir()
    path.write_text(json.dumps({"version": 1, "classes": [
        {"id": 0, "name": "background", "colour": "#00bfff"}, {"id": 1, "name": "cells", "colour": "#ff3b30"}]}))
    w = make_window(image_folder)
    assert w.class_panel.colours() == ["#00bfff", "#ff3b30"]
    QTest.keyClick(w, Qt.Key_F2)
    mouse_for(w).stroke(square(20, 20, 50, 50))
    assert items_of(w, 1)[0].pen().color().name() == "#ff3b30"
    qtbot.mouseClick(w.class_panel.add_button, Qt.LeftButton)  # a new class gets the new palette
    saved = [c["colour"] for c in json.loads(path.read_text())["classes"]]
    assert saved == ["#00bfff", "#ff3b30", "#56b4e9"]


def test_background_is_drawn_dashed_faint_and_behind_the_objects(make_window, mouse_for, image_folder):
    w = make_window(image_folder)
    mouse = mouse_for(w)
    QTest.keyClick(w, Qt.Key_F2)
    QTest.keyClick(w, Qt.Key_0)
    mouse.stroke(square(5, 5, 150, 110, 8))
    QTest.keyClick(w, Qt.Key_1)
    mouse.stroke(square(40, 40, 80, 80))
    (bg,) = items_of(w, 0)
    (obj,) = items_of(w, 1)
    assert bg.pen().style() == Qt.DashLine and obj.pen().style() == Qt.SolidLine
    assert bg.brush().color().alpha() < obj.brush().color().alpha() / 2
    assert bg.zValue() < obj.zValue()


def _slider_handle(slider) -> QPoint:
    option = QStyleOptionSlider()
    slider.initStyleOption(option)
    rect = slider.style().subControlRect(QStyle.CC_Slider, option, QStyle.SC_SliderHandle, slider)
    return rect.center()


def test_opacity_outlines_only_and_hidden_classes_change_the_drawn_items(make_window, mouse_for,
                                                                          image_folder, qtbot):
    w = make_window(image_folder)
    mouse = mouse_for(w)
    panel = w.class_panel
    panel.add_class("nucleus")
    QTest.keyClick(w, Qt.Key_F2)
    QTest.keyClick(w, Qt.Key_1)
    mouse.stroke(square(10, 10, 50, 50))
    QTest.keyClick(w, Qt.Key_2)
    mouse.stroke(square(80, 20, 130, 70))
    one, two = items_of(w, 1)[0], items_of(w, 2)[0]

    # drag the opacity handle from the right end to the middle of the groove
    slider = panel.opacity
    start = _slider_handle(slider)
    qtbot.mousePress(slider, Qt.LeftButton, pos=start)
    middle = QPoint(slider.width() // 2, start.y())
    QApplication.sendEvent(slider, QMouseEvent(QMouseEvent.MouseMove, QPointF(middle), Qt.NoButton,
                                               Qt.LeftButton, Qt.NoModifier))
    qtbot.mouseRelease(slider, Qt.LeftButton, pos=middle)
    assert 35 <= slider.value() <= 65
    assert abs(one.effectiveOpacity() - slider.value() / 100) < 1e-6
    assert abs(two.effectiveOpacity() - slider.value() / 100) < 1e-6

    filled = one.brush().color().alpha()
    assert filled > 0
    qtbot.mouseClick(panel.outline_only, Qt.LeftButton)
    assert one.brush().style() == Qt.NoBrush and two.brush().style() == Qt.NoBrush
    assert one.pen().color().name() == panel.classes[1].colour  # outlines stay
    mouse.stroke(square(20, 80, 50, 110))  # new contours follow the mode too
    assert all(item.brush().style() == Qt.NoBrush for item in items_of(w, 2))
    qtbot.mouseClick(panel.outline_only, Qt.LeftButton)
    assert one.brush().color().alpha() == filled

    # the box of class 1 hides its contours and leaves class 2 (still the active class) alone
    box = panel.check_rect(1).center()
    qtbot.mouseClick(panel.list.viewport(), Qt.LeftButton, pos=box)
    assert not one.isVisible() and two.isVisible()
    assert panel.active_class == 2 and panel.list.item(1).checkState() == Qt.Unchecked
    QTest.keyClick(w, Qt.Key_1)
    mouse.stroke(square(10, 60, 30, 80))  # drawn in a hidden class: saved, not shown
    assert len(w.document.labels.contours) == 4
    assert not any(item.isVisible() for item in items_of(w, 1))
    qtbot.mouseClick(panel.list.viewport(), Qt.LeftButton, pos=box)
    assert all(item.isVisible() for item in items_of(w, 1))
    # a click on the name still selects the class
    name = panel.list.visualItemRect(panel.list.item(2)).center()
    qtbot.mouseClick(panel.list.viewport(), Qt.LeftButton, pos=name)
    assert panel.active_class == 2


def test_touching_contours_of_one_class_have_their_own_outlines_and_shades(make_window, image_folder, qtbot):
    # three cells side by side, sharing borders, as a prediction with separated objects writes them
    cells = [Contour(1, np.array([[x, 30], [x + 19, 30], [x + 19, 70], [x, 70]])) for x in (30, 50, 70)]
    others = [Contour(2, np.array([[105, 10], [145, 10], [150, 40], [110, 45]])),
              Contour(3, np.array([[110, 55], [150, 55], [150, 80], [130, 95], [110, 80]])),
              Contour(0, np.array([[5, 88], [100, 88], [100, 115], [5, 115]]))]
    save_labels(label_path(image_folder / "a_blobs.png"), LabelSet(cells + others, (120, 160)))
    w = make_window(image_folder)
    items = items_of(w, 1)
    assert len(items) == 3
    fills = [item.brush().color().name() for item in sorted(items, key=lambda i: i.path().boundingRect().left())]
    assert fills[0] != fills[1] != fills[2]  # each cell's neighbour has another shade
    assert all(item.pen().color().name() == w.class_panel.colours()[1] for item in items)
    # on screen: the outline colour runs down every shared border, between the fills
    w.canvas.view.setRange(xRange=(25, 95), yRange=(25, 75), padding=0)
    QTest.qWait(20)
    grabbed = w.canvas.grab()
    grabbed.save("/tmp/ux-look-touching.png")
    picture = as_array(grabbed.toImage())
    outline = w.class_panel.colours()[1]
    for right_edge in (49, 69):  # each cell's outline, then a one-pixel unlabelled gap, then the next
        for x in (right_edge, right_edge + 1):
            p = w.canvas.image_to_widget(x, 50)
            assert near(picture[p.y() - 1 : p.y() + 2, p.x() - 2 : p.x() + 3], outline, 30).any()
        gap = w.canvas.image_to_widget(right_edge + 0.5, 50)
        inside = w.canvas.image_to_widget(right_edge - 5, 50)
        assert not near(picture[gap.y(), gap.x()][None], outline, 60).any()
        assert picture[gap.y(), gap.x(), 0] < picture[inside.y(), inside.x(), 0]  # untinted
    w.canvas.fit()
    w.class_panel.add_class("nucleus")
    w.class_panel.add_class("membrane")
    QTest.qWait(20)
    w.grab().save("/tmp/ux-look-colours.png")


def test_the_old_untouched_default_classes_of_the_user_settings_get_the_new_palette(isolated_settings):
    from mia_core.viewer.settings import UserSettings

    isolated_settings.mkdir(parents=True)
    old = [{"name": "background", "colour": "#00bfff"}, {"name": "class 1", "colour": "#ff3b30"}]
    (isolated_settings / "settings.json").write_text(json.dumps({"default_classes": old}))
    settings, warning = UserSettings.load()
    assert warning is None and [c.colour for c in settings.default_classes] == ["#d0d0d0", "#e69f00"]
    chosen = [{"name": "background", "colour": "#00bfff"}, {"name": "cells", "colour": "#ff3b30"}]
    (isolated_settings / "settings.json").write_text(json.dumps({"default_classes": chosen}))
    settings, _ = UserSettings.load()
    assert [c.colour for c in settings.default_classes] == ["#00bfff", "#ff3b30"]  # the user's own: kept


def test_cells_packed_side_by_side_never_share_a_shade_with_a_neighbour(qtbot):
    import pyqtgraph as pg

    from mia_core.viewer.contours import ContourLayer

    widget = pg.GraphicsLayoutWidget()
    qtbot.addWidget(widget)
    layer = ContourLayer(widget.addViewBox())
    layer.set_colours(["#d0d0d0", "#e69f00"])
    grid = {(x, y): Contour(1, np.array([[x, y], [x + 9, y], [x + 9, y + 9], [x, y + 9]]))
            for x in range(0, 200, 10) for y in range(0, 200, 10)}
    layer.show(LabelSet(list(grid.values()), (200, 200)))
    qtbot.waitUntil(lambda: not layer.pending)
    fill = {id(c): item.brush().color().name() for c, item in layer.items.values()}
    for (x, y), c in grid.items():
        for dx, dy in ((10, 0), (0, 10), (10, 10), (10, -10)):  # sides and corners touch
            other = grid.get((x + dx, y + dy))
            if other is not None:
                assert fill[id(c)] != fill[id(other)], (x, y, dx, dy)
    # an edit redraws one cell: it takes a shade unlike its neighbours again
    middle = grid[(100, 100)]
    moved = Contour(1, middle.outer + 0)
    layer.show(LabelSet([moved if c is middle else c for c in grid.values()], (200, 200)))
    qtbot.waitUntil(lambda: not layer.pending)
    fill = {id(c): item.brush().color().name() for c, item in layer.items.values()}
    assert all(fill[id(moved)] != fill[id(grid[(100 + dx, 100 + dy)])]
               for dx in (-10, 0, 10) for dy in (-10, 0, 10) if (dx, dy) != (0, 0))
