"""File > Export masks… and Import masks…: the label commands run from the app in a worker."""

from __future__ import annotations


import cv2
import numpy as np
import tifffile
from PyQt5.QtCore import QPoint, Qt
from PyQt5.QtWidgets import QApplication, QCheckBox, QLabel
from skimage.draw import disk

from mia_core.label_store import label_path, load_labels, save_labels
from mia_core.raster import labels_from_class_map
from mia_core.viewer.gui_text import MASK_CONTROLS

SHAPE = (60, 80)


def _menu_action(w, name: str):
    (action,) = [a for a in w.findChildren(type(w.actions_.quit)) if a.objectName() == name]
    return action


def _dialog(w, qtbot, name: str):
    _menu_action(w, name).trigger()
    dialog = w.mask_import_dialog if name == "import_masks" else w.mask_export_dialog
    qtbot.waitExposed(dialog)
    return dialog


def test_export_then_import_masks_from_the_menu(make_window, qtbot, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ("a.png", "b.png"):
        cv2.imwrite(str(folder / name), np.full(SHAPE, 30, np.uint8))
    cm = np.full(SHAPE, -1, np.int16)
    cm[disk((20, 20), 8)] = 1
    cm[disk((40, 60), 6)] = 2
    save_labels(label_path(folder / "a.png"), labels_from_class_map(cm))
    w = make_window(folder)
    d = _dialog(w, qtbot, "export_masks")
    out = tmp_path / "masks"
    d.where.setFocus()
    qtbot.keyClicks(d.where, str(out))
    qtbot.mouseClick(d.run_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: d.result is not None, timeout=20000)
    assert d.result[0] == 0 and "exported 1 masks (2 contours)" in d.output.toPlainText()
    assert d.progress.value() == d.progress.maximum()
    mask = tifffile.imread(out / "a.tif")
    assert mask.dtype == np.uint16 and np.array_equal(mask, np.where(cm < 0, 0, cm))
    # import the mask as b.png's labels (a.png's file exists and is kept: no "replace")
    (out / "a.tif").rename(out / "b.tif")
    cv2.imwrite(str(out / "a.png"), np.zeros(SHAPE, np.uint8))
    d.close()
    w.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w)
    imp = _dialog(w, qtbot, "import_masks")
    imp.where.setFocus()
    qtbot.keyClicks(imp.where, str(out))
    qtbot.mouseClick(imp.run_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: imp.result is not None, timeout=20000)
    text = imp.output.toPlainText()
    assert "a.png: skipped" in text and "b.png: b.tif -> b.npz: 2 contours" in text
    assert "tick “Replace existing …” to replace it" in text and "--" not in text  # GUI words, not flags
    named = [x.text() for x in imp.findChildren((QLabel, QCheckBox))]
    assert all(any(c in t for t in named) for c in MASK_CONTROLS)  # the controls those words name exist
    back = load_labels(label_path(folder / "b.png"))
    assert np.array_equal(back.with_shape(SHAPE).to_class_map(), cm)
    assert len(load_labels(label_path(folder / "a.png"))) == 2  # not replaced
    assert w.image_list.state(folder / "b.png") == "labelled"
    # replacing: tick the box, the empty a.png mask now replaces a's labels
    qtbot.mouseClick(imp.replace, Qt.LeftButton, pos=QPoint(8, imp.replace.height() // 2))
    imp.result = None
    qtbot.mouseClick(imp.run_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: imp.result is not None, timeout=20000)
    assert load_labels(label_path(folder / "a.png")).class_ids() == [0]  # an empty mask: background
    assert w.canvas.contours.classes == {0}  # the open image shows what was imported
