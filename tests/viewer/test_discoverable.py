"""The app tells what to do and what happened: the tool-and-mode hint, the mode buttons, tooltips,
the first-start hint, a steady options row that fits at 1200 px, the Keys dialog read from the
actions, and a word when an action changes nothing."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

from PyQt5.QtCore import Qt
from PyQt5.QtGui import QKeySequence
from PyQt5.QtTest import QTest
from PyQt5.QtWidgets import QAction, QShortcut, QToolButton

from mia_core.label_store import label_path, load_labels
from mia_core.tool_base import tool_hint

SHOTS = Path(os.environ.get("MIA_SCREENSHOTS", "/tmp"))


def test_status_hint_follows_the_tool_and_its_mode(make_window, mouse_for, image_folder, qtbot):
    w = make_window(image_folder)
    mouse = mouse_for(w)
    QTest.keyClick(w, Qt.Key_F3)
    assert w.status.message.text().startswith("Polygon (add): click the corners, right-click to close")
    mouse.click(5, 5, Qt.RightButton)  # no polygon open: next mode
    assert w.status.message.text().startswith("Polygon (delete): ")
    mouse.click(20, 30)
    mouse.click(20, 90)  # a cut line in progress: the mode button changes what it will do, keeps its points
    qtbot.mouseClick(w.options.modes.buttons()["slice"], Qt.LeftButton)
    assert w.status.message.text().startswith("Polygon (slice): click along a cut line")
    assert w.tools.current.in_progress
    mouse.click(20, 100, Qt.RightButton)  # the kept points are cut along, in the new mode
    assert w.status.message.text() == "Polygon: nothing sliced: the line crosses no contour"
    QTest.keyClick(w, Qt.Key_F5)
    assert w.status.message.text().startswith("Brush (expand): paint to grow")
    QTest.keyClick(w, Qt.Key_F1)
    assert w.status.message.text().startswith("Drag: drag to pan")
    QTest.keyClick(w, Qt.Key_F7)  # DEXTR's own, live text comes first
    assert "0 of 4 extreme points" in w.status.message.text()


def test_a_tool_without_hints_is_named_with_its_mode():
    bare = SimpleNamespace(name="stamp", label="Stamp squares", modes=("add", "remove"), mode="remove")
    assert tool_hint(bare) == "Tool: Stamp squares, mode remove (right-click on the image for the next mode)"
    assert tool_hint(SimpleNamespace(name="zap")) == "Tool: zap"


def test_tooltips_name_the_key_and_that_right_click_switches_the_mode(make_window, image_folder):
    w = make_window(image_folder)
    poly_tip = w.toolbar.actions_by_tool["poly"].toolTip()
    assert "key F3" in poly_tip and "Right-click on the image switches the mode: add → delete → slice" in poly_tip
    assert "key F4" in w.toolbar.actions_by_tool["assign"].toolTip()
    assert "switches the mode: assign → object number" in w.toolbar.actions_by_tool["assign"].toolTip()
    QTest.keyClick(w, Qt.Key_F2)
    tip = w.options.modes.buttons()["delete"].toolTip()
    assert "draw around what to remove" in tip and "Right-click on the image switches" in tip
    assert "Ctrl+Z" in w.actions_.undo.toolTip()


def _x_in_window(w, widget) -> int:
    return widget.mapTo(w, widget.rect().topLeft()).x()


def test_options_row_stays_put_and_fits_at_1200_px(make_window, image_folder, qtbot):
    w = make_window(image_folder)
    w.resize(1200, 800)
    qtbot.waitUntil(lambda: w.width() == 1200)
    QTest.qWait(20)
    places = set()
    for key in (Qt.Key_F1, Qt.Key_F2, Qt.Key_F3, Qt.Key_F4, Qt.Key_F5, Qt.Key_F6, Qt.Key_F7):
        QTest.keyClick(w, key)
        QTest.qWait(5)
        places.add((_x_in_window(w, w.options.size_box), _x_in_window(w, w.options.inner), w.options.height()))
    assert len(places) == 1, places  # the size box and the switch never move, the row never grows
    # nothing hides behind a tool bar's » overflow button at 1200 px
    for bar in (w.toolbar, w.edit_bar, w.options):
        overflow = [b for b in bar.findChildren(QToolButton) if b.objectName() == "qt_toolbar_ext_button"]
        assert not any(b.isVisible() for b in overflow), bar.objectName()
    for action in (w.actions_.undo, w.actions_.redo, w.assist.smart_action):
        assert w.edit_bar.widgetForAction(action).isVisible()
    QTest.keyClick(w, Qt.Key_F3)
    assert w.grab().save(str(SHOTS / "ux-discover-polygon-1200.png"))


def test_first_start_points_at_f2_and_later_starts_do_not(make_window, image_folder, isolated_settings):
    w = make_window(image_folder)
    w.resize(1200, 800)
    assert w.settings.first_start and "Press F2" in w.status.welcome.text()
    assert w.status.welcome.width() > 100
    assert w.grab().save(str(SHOTS / "ux-discover-first-start-1200.png"))
    QTest.keyClick(w, Qt.Key_F2)  # the user found the start: the pointer goes
    assert w.status.welcome.text() == "" and w.status.welcome.width() == 0
    w.close()
    assert (isolated_settings / "settings.json").exists()
    again = make_window(image_folder)
    assert not again.settings.first_start and again.status.welcome.text() == ""


def test_keys_dialog_lists_every_shortcut_of_the_window(make_window, image_folder):
    w = make_window(image_folder)
    late = QAction("Jump somewhere", w)  # a key added after the menus were built is listed too
    late.setShortcut(QKeySequence("Ctrl+Alt+J"))
    w.addAction(late)
    keys_action = next(a for a in w.menuBar().findChildren(QAction) if a.text() == "Keys…")
    keys_action.trigger()
    dialog = w.keys_dialog
    assert dialog is not None and dialog.isVisible()
    table = dialog.table
    rows = [(table.item(r, 0).text(), table.item(r, 1).text()) for r in range(table.rowCount())]
    listed_keys = " | ".join(k for k, _ in rows)
    for action in w.findChildren(QAction):
        for seq in action.shortcuts():
            assert seq.toString(QKeySequence.NativeText) in listed_keys, action.text()
    for sc in w.findChildren(QShortcut):
        key = sc.key().toString(QKeySequence.NativeText)
        assert key in listed_keys or any(sc.whatsThis() == what for _, what in rows), key
    assert ("Ctrl+Alt+J", "Jump somewhere") in rows
    assert ("Ctrl+Z", "Edit > Undo") in rows
    assert ("F3", "Polygon (add / delete / slice) tool") in rows
    assert ("0 … 9", "make class 0 … 9 the active class") in rows
    assert any(k == "right click" for k, _ in rows)


def test_an_action_that_changes_nothing_says_so(make_window, mouse_for, image_folder):
    w = make_window(image_folder)
    mouse = mouse_for(w)
    path = label_path(image_folder / "a_blobs.png")
    QTest.keyClick(w, Qt.Key_F3)
    mouse.click(20, 20)
    mouse.click(60, 20)
    mouse.click(60, 30, Qt.RightButton)  # closes a 2-point polygon
    assert w.status.message.text() == "Polygon: 2 point(s), at least 3 needed to add; nothing changed"
    assert not path.exists()
    QTest.keyClick(w, Qt.Key_F6)
    mouse.click(40, 40)
    assert w.status.message.text() == "Delete: nothing deleted: no contour under the pointer"
    QTest.keyClick(w, Qt.Key_F4)
    mouse.click(40, 40)
    assert w.status.message.text().startswith("Assign: nothing changed: no contour here")
    QTest.keyClick(w, Qt.Key_F2)
    mouse.click(5, 5, Qt.RightButton)  # delete mode
    mouse.stroke([(20, 20), (60, 20), (60, 60), (20, 60), (20, 20)])
    assert w.status.message.text() == "Draw: nothing deleted: no contour under the stroke"
    assert not path.exists()
    mouse.click(5, 5, Qt.RightButton)
    mouse.click(5, 5, Qt.RightButton)  # add again
    mouse.stroke([(20, 20), (60, 20), (60, 60), (20, 60), (20, 20)])
    assert len(load_labels(path)) == 1
    assert w.status.message.text().startswith("Draw (add): ")  # a real edit shows the hint again
    QTest.keyClick(w, Qt.Key_F4)
    mouse.click(40, 40)  # it has the active class already
    assert w.status.message.text().startswith("Assign: nothing changed")
