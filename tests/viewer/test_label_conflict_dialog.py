"""An open image whose label file another writer changed: the app asks, reload or keep mine."""

from __future__ import annotations

from PyQt5.QtCore import Qt, QTimer
from PyQt5.QtTest import QTest
from PyQt5.QtWidgets import QApplication, QMessageBox, QPushButton

from mia_core.label_store import label_path, load_labels, save_labels
from mia_core.labels import LabelSet


def square(x0, y0, x1, y1, step=4):
    """Points around a rectangle, as a hand would trace it."""
    top = [(x, y0) for x in range(x0, x1, step)]
    right = [(x1, y) for y in range(y0, y1, step)]
    bottom = [(x, y1) for x in range(x1, x0, -step)]
    left = [(x0, y) for y in range(y1, y0, -step)]
    return top + right + bottom + left + [(x0, y0)]


def _click_in_dialog(qtbot, text: str, seen: list[str]) -> None:
    """Once the modal question is up, click its button ``text`` with the mouse."""
    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(20, click)
            return
        seen.append(box.objectName() + ": " + box.text())
        button = next(b for b in box.findChildren(QPushButton) if b.text() == text)
        qtbot.mouseClick(button, Qt.LeftButton)

    QTimer.singleShot(0, click)


def _other_writer(path) -> None:
    """Another program writes one class-2 square into the label file."""
    save_labels(path, LabelSet(()).add_polygon([(100, 80), (140, 80), (140, 110), (100, 110)], 2))


def test_reload_or_keep_mine_when_the_label_file_changed_on_disk(make_window, mouse_for, image_folder, qtbot):
    w = make_window(image_folder)
    w.folder_watch.watch(None)  # the question an edit asks, not the one the folder watch asks first
    mouse = mouse_for(w)
    path = label_path(image_folder / "a_blobs.png")
    QTest.keyClick(w, Qt.Key_F2)  # draw
    mouse.stroke(square(10, 10, 40, 40))
    assert load_labels(path).class_ids() == [1]

    _other_writer(path)
    seen: list[str] = []
    _click_in_dialog(qtbot, "Reload", seen)
    mouse.stroke(square(50, 50, 70, 70))
    assert seen and seen[0].startswith("labelConflict: a_blobs.npz was changed on disk")
    assert load_labels(path).class_ids() == [2]  # theirs kept, the stroke dropped
    assert len(w.canvas.contours.items) == 1 and w.document.labels.class_ids() == [2]  # shown

    _other_writer(path)
    w.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w)
    _click_in_dialog(qtbot, "Keep mine", seen)
    mouse.stroke(square(10, 60, 40, 90))
    assert len(seen) == 2
    on_disk = load_labels(path)
    assert on_disk.class_ids() == [1, 2] and len(on_disk) == 2  # theirs as shown here plus the stroke
    assert len(w.canvas.contours.items) == 2
