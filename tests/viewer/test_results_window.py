"""The Results window: settings remembered, export through the file dialog in a worker, XLSX content."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PyQt5.QtCore import QPoint, Qt
from PyQt5.QtWidgets import QFileDialog
from skimage.draw import disk

from mia_core.label_store import label_path, save_labels
from mia_core.raster import labels_from_class_map
from mia_core.viewer.results_window import ResultsWindow


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), np.full((60, 80), 7, np.uint8))
    cm = np.full((60, 80), -1, np.int16)
    cm[disk((20, 20), 6)] = 1
    cm[disk((40, 60), 8)] = 2
    save_labels(label_path(folder / "a.png"), labels_from_class_map(cm))
    return folder


def _uncheck(qtbot, win: ResultsWindow, name: str) -> None:
    """Click the check box of a column in the list."""
    lst = win.columns
    (item,) = lst.findItems(name, Qt.MatchExactly)
    lst.scrollToItem(item)
    rect = lst.visualItemRect(item)
    qtbot.mouseClick(lst.viewport(), Qt.LeftButton, pos=QPoint(rect.left() + 10, rect.center().y()))


def test_export_through_the_dialog_and_remembered_settings(qtbot, tmp_path, monkeypatch):
    from openpyxl import load_workbook

    from mia_core.plugins import load_plugins

    registry = load_plugins(disabled=set())

    folder = _folder(tmp_path)
    win = ResultsWindow(registry, folder)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    win.min_size.selectAll()
    qtbot.keyClicks(win.min_size, "10")
    qtbot.keyClick(win.min_size, Qt.Key_Enter)
    qtbot.mouseClick(win.tracking, Qt.LeftButton)
    _uncheck(qtbot, win, "perimeter")
    assert win.export_settings().min_size == 10 and win.export_settings().tracking
    assert "perimeter" not in win.export_settings().columns
    out = tmp_path / "r.xlsx"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    win.grab().save(str(tmp_path / "results_window.png"))
    qtbot.mouseClick(win.export_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: "Wrote 2 rows" in win.message.text(), timeout=20000)
    wb = load_workbook(out)
    head = [c.value for c in wb["Objects"][1]]
    assert "perimeter" not in head and "pixel_area" in head
    rows = list(wb["Objects"].values)[1:]
    assert sorted(r[head.index("class_id")] for r in rows) == [1, 2]
    assert {r[head.index("mean_intensity")] for r in rows} == {7}
    assert sorted(r[head.index("object")] for r in rows) == [1, 2]  # tracking numbers the objects
    summary = list(wb["Summary"].values)
    assert [r[2] for r in summary[1:]] == [1, 1]
    assert win.progress.value() == win.progress.maximum() == 1
    win.close()
    again = ResultsWindow(registry, folder)
    qtbot.addWidget(again)
    s = again.export_settings()
    assert s.min_size == 10 and s.tracking and "perimeter" not in s.columns and "pixel_area" in s.columns


def test_sheet_per_class_chosen_in_the_window(qtbot, tmp_path, monkeypatch):
    from openpyxl import load_workbook

    from mia_core.plugins import load_plugins

    folder = _folder(tmp_path)
    registry = load_plugins(disabled=set())
    win = ResultsWindow(registry, folder)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    assert not win.export_settings().sheet_per_class  # one sheet by default
    win.sheets.setFocus()
    qtbot.keyClick(win.sheets, Qt.Key_Down)
    assert win.export_settings().sheet_per_class
    out = tmp_path / "per_class.xlsx"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(out), ""))
    qtbot.mouseClick(win.export_button, Qt.LeftButton)
    qtbot.waitUntil(lambda: "Wrote 2 rows" in win.message.text(), timeout=20000)
    wb = load_workbook(out)
    assert wb.sheetnames == ["1", "2", "Summary"]  # no class file: classes are named by id
    for name in ("1", "2"):
        rows = list(wb[name].values)
        head = list(rows[0])
        assert len(rows) == 2 and rows[1][head.index("class")] == name
    again = ResultsWindow(registry, folder)
    qtbot.addWidget(again)
    assert again.export_settings().sheet_per_class  # remembered
