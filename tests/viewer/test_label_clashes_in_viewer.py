"""The app greys out images that would share a label file, and says when TIFF pages were skipped."""

from __future__ import annotations

import cv2
import numpy as np
import tifffile
from PyQt5.QtCore import Qt

from mia_core.label_store import label_path

from viewer_helpers import wait_loaded


def _click_item(qtbot, w, name: str) -> None:
    lst = w.image_list.list
    row = next(i for i in range(lst.count()) if lst.item(i).text().startswith(name))
    rect = lst.visualItemRect(lst.item(row))
    qtbot.mouseClick(lst.viewport(), Qt.LeftButton, pos=rect.center())


def test_images_sharing_a_label_file_are_greyed_and_refused(make_window, qtbot, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    cv2.imwrite(str(folder / "a_ok.png"), np.full((60, 80), 120, np.uint8))
    cv2.imwrite(str(folder / "one.png"), np.full((60, 80), 120, np.uint8))
    tifffile.imwrite(folder / "one.tif", np.zeros((60, 80), np.uint8))
    w = make_window(folder)
    assert w.image.path.name == "a_ok.png"
    for name in ("one.png", "one.tif"):
        assert w.image_list.state(folder / name) == "unreadable"
        assert "one.png and one.tif would share" in w.image_list.reason(folder / name)
    item = w.image_list.list.item(1)
    assert item.text() == "one.png — shares its label file"
    assert "Segmentation_labels/one.npz" in item.toolTip()
    assert item.foreground().color().name() == "#8e8e93"
    _click_item(qtbot, w, "one.tif")
    qtbot.waitUntil(lambda: w.image is None)
    assert w.status.last_error.startswith("Cannot open one.tif: one.png and one.tif would share")
    assert w.tool_context() is None
    assert not label_path(folder / "one.png").exists()


def test_skipped_reduced_resolution_pages_are_shown_in_the_status_bar(make_window, qtbot, tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    full = np.arange(60 * 80, dtype=np.uint16).reshape(60, 80)
    with tifffile.TiffWriter(folder / "pyramid.tif") as tw:
        tw.write(full, photometric="minisblack")
        tw.write(full[::2, ::2].copy(), subfiletype=1, photometric="minisblack")
    w = make_window(folder)
    wait_loaded(qtbot, w, "pyramid.tif")
    assert w.image.data.shape == (1, 60, 80)
    assert "1 reduced-resolution page(s)" in w.status.message.text()
