"""An open image whose label file another writer changed: the app asks, reload or keep mine."""

from __future__ import annotations

from PyQt5.QtCore import Qt
from PyQt5.QtTest import QTest
from PyQt5.QtWidgets import QApplication

from mia_core.label_store import label_path, load_labels, save_labels
from mia_core.labels import LabelSet

from viewer_helpers import answer_next_question, square


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
    answer_next_question(qtbot, "Reload", seen)
    mouse.stroke(square(50, 50, 70, 70))
    assert seen and seen[0].startswith("labelConflict: a_blobs.npz was changed on disk")
    assert load_labels(path).class_ids() == [2]  # theirs kept, the stroke dropped
    assert len(w.canvas.contours.items) == 1 and w.document.labels.class_ids() == [2]  # shown

    _other_writer(path)
    w.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w)
    answer_next_question(qtbot, "Keep mine", seen)
    mouse.stroke(square(10, 60, 40, 90))
    assert len(seen) == 2
    on_disk = load_labels(path)
    assert on_disk.class_ids() == [1, 2] and len(on_disk) == 2  # theirs as shown here plus the stroke
    assert len(w.canvas.contours.items) == 2
