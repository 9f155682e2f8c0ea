"""A folder that lives: images added or removed show without reopening, a label file changed by
another program offers to reload, and reopening the folder keeps the undo history of unchanged files."""

from __future__ import annotations


import cv2
from PyQt5.QtCore import Qt
from PyQt5.QtTest import QTest
from PyQt5.QtWidgets import QApplication

from mia_core.label_store import label_path, load_labels, save_labels
from mia_core.labels import LabelSet
from mia_core.viewer import folder_watch

from viewer_helpers import IMAGE_SHAPE, answer_next_question, blob_image, square, wait_loaded


def asked(seen: list[str]) -> list[str]:
    """The object names of the questions ``answer_next_question`` answered (which question, not its words)."""
    return [s.partition(": ")[0] for s in seen]


def back_to(qtbot, w) -> None:
    """After a question closed, the window is active again (keys reach its shortcuts)."""
    w.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w)


def other_writer(path, class_id: int = 2) -> None:
    """Another program writes one square of ``class_id`` into the label file."""
    save_labels(path, LabelSet(()).add_polygon([(100, 80), (140, 80), (140, 110), (100, 110)], class_id))


def test_images_added_and_removed_show_in_the_list_without_reopening(make_window, image_folder, qtbot):
    w = make_window(image_folder)
    new = image_folder / "aa_new.png"
    cv2.imwrite(str(new), blob_image(IMAGE_SHAPE, 7))
    qtbot.waitUntil(lambda: new in w.image_list.paths, timeout=5000)
    assert [p.name for p in w.image_list.paths] == ["a_blobs.png", "aa_new.png", "b_blobs.png",
                                                    "c_stack.tif", "d_broken.png"]
    assert w.image_list.current_path().name == "a_blobs.png" and w.image.path.name == "a_blobs.png"
    assert "1 image(s) added (aa_new.png)" in w.status.message.text()
    # the new image opens with a click
    rect = w.image_list.list.visualItemRect(w.image_list.list.item(1))
    qtbot.mouseClick(w.image_list.list.viewport(), Qt.LeftButton, pos=rect.center())
    wait_loaded(qtbot, w, "aa_new.png")

    (image_folder / "b_blobs.png").unlink()
    qtbot.waitUntil(lambda: image_folder / "b_blobs.png" not in w.image_list.paths, timeout=5000)
    assert w.image.path.name == "aa_new.png"  # the open image stays
    new.unlink()  # the open one goes: the canvas says so
    qtbot.waitUntil(lambda: w.image is None, timeout=5000)
    assert "aa_new.png was removed from the folder" in w.canvas.message.text()
    assert [p.name for p in w.image_list.paths] == ["a_blobs.png", "c_stack.tif", "d_broken.png"]


def test_a_burst_of_changes_is_handled_once(make_window, image_folder, qtbot, monkeypatch):
    w = make_window(image_folder)
    calls = []
    original = w.folder_watch._update_images
    monkeypatch.setattr(w.folder_watch, "_update_images", lambda: calls.append(1) or original())
    for i in range(5):
        cv2.imwrite(str(image_folder / f"n{i}.png"), blob_image(IMAGE_SHAPE, 20 + i))
    qtbot.waitUntil(lambda: image_folder / "n4.png" in w.image_list.paths, timeout=5000)
    QTest.qWait(folder_watch.DEBOUNCE_MS + 100)
    assert len(calls) == 1
    assert sum(p.name.startswith("n") for p in w.image_list.paths) == 5


def test_a_label_file_changed_on_disk_offers_to_reload(make_window, mouse_for, image_folder, qtbot):
    w = make_window(image_folder)
    mouse = mouse_for(w)
    path = label_path(image_folder / "a_blobs.png")
    QTest.keyClick(w, Qt.Key_F2)
    mouse.stroke(square(10, 10, 40, 40))
    assert load_labels(path).class_ids() == [1]

    seen: list[str] = []
    answer_next_question(qtbot, "Reload", seen)
    other_writer(path)
    qtbot.waitUntil(lambda: w.document.labels.class_ids() == [2], timeout=5000)
    assert asked(seen) == ["labelsChangedOnDisk"]
    assert len(w.canvas.contours.items) == 1
    back_to(qtbot, w)
    QTest.keyClick(w, Qt.Key_Z, Qt.ControlModifier)  # mine come back, and are written
    assert w.document.labels.class_ids() == [1] and load_labels(path).class_ids() == [1]

    # Later: asked once for this version of the file; the next edit asks again (the edit's question)
    answer_next_question(qtbot, "Later", seen)
    other_writer(path, 3)
    qtbot.waitUntil(lambda: len(seen) == 2, timeout=5000)
    (image_folder / "Segmentation_labels" / "note.txt").write_text("another change in the folder")
    QTest.qWait(folder_watch.DEBOUNCE_MS + 200)
    assert len(seen) == 2 and w.document.labels.class_ids() == [1]
    back_to(qtbot, w)
    answer_next_question(qtbot, "Keep mine", seen)
    mouse.stroke(square(10, 60, 40, 90))
    on_disk = load_labels(path)
    assert asked(seen)[2] == "labelConflict" and on_disk.class_ids() == [1] and len(on_disk) == 2


def test_an_unedited_open_image_shows_the_new_labels_without_asking(make_window, image_folder, qtbot):
    w = make_window(image_folder)
    other_writer(label_path(image_folder / "a_blobs.png"))
    qtbot.waitUntil(lambda: w.document.labels.class_ids() == [2], timeout=5000)
    assert len(w.canvas.contours.items) == 1 and not w.document.can_undo
    assert QApplication.activeModalWidget() is None
    qtbot.waitUntil(lambda: w.image_list.state(image_folder / "a_blobs.png") == "labelled", timeout=5000)


def test_an_edited_image_whose_file_changed_meanwhile_asks_when_shown_again(make_window, mouse_for,
                                                                            image_folder, qtbot):
    w = make_window(image_folder)
    QTest.keyClick(w, Qt.Key_F2)
    mouse_for(w).stroke(square(10, 10, 40, 40))
    w.image_list.select(image_folder / "b_blobs.png")
    wait_loaded(qtbot, w, "b_blobs.png")
    seen: list[str] = []
    other_writer(label_path(image_folder / "a_blobs.png"))
    QTest.qWait(folder_watch.DEBOUNCE_MS + 200)
    assert QApplication.activeModalWidget() is None  # not on screen: nothing asked yet
    answer_next_question(qtbot, "Reload", seen)
    w.image_list.select(image_folder / "a_blobs.png")
    wait_loaded(qtbot, w, "a_blobs.png")
    qtbot.waitUntil(lambda: asked(seen) == ["labelsChangedOnDisk"], timeout=5000)
    assert w.document.labels.class_ids() == [2] and w.document.can_undo


def test_reopening_the_folder_keeps_undo_where_the_label_file_is_unchanged(make_window, mouse_for,
                                                                           image_folder, qtbot):
    w = make_window(image_folder)
    mouse = mouse_for(w)
    QTest.keyClick(w, Qt.Key_F2)
    w.image_list.select(image_folder / "b_blobs.png")
    wait_loaded(qtbot, w, "b_blobs.png")
    mouse.stroke(square(50, 50, 80, 80))
    w.image_list.select(image_folder / "a_blobs.png")
    wait_loaded(qtbot, w, "a_blobs.png")
    mouse.stroke(square(10, 10, 40, 40))
    other_writer(label_path(image_folder / "b_blobs.png"))  # b is not on screen: nothing is asked
    QTest.qWait(folder_watch.DEBOUNCE_MS + 200)
    w.open_folder(image_folder)  # what File > Open folder does with the same folder
    wait_loaded(qtbot, w, "a_blobs.png")
    assert w.document.can_undo  # a's history is kept
    QTest.keyClick(w, Qt.Key_Z, Qt.ControlModifier)
    assert w.document.labels.is_empty and not label_path(image_folder / "a_blobs.png").exists()
    w.image_list.select(image_folder / "b_blobs.png")
    wait_loaded(qtbot, w, "b_blobs.png")
    assert w.document.labels.class_ids() == [2] and not w.document.can_undo  # read again: theirs
    assert QApplication.activeModalWidget() is None
    # another folder and back: histories go with the folder
    w.open_folder(image_folder.parent)
    w.open_folder(image_folder)
    wait_loaded(qtbot, w, "b_blobs.png")
    w.image_list.select(image_folder / "a_blobs.png")
    wait_loaded(qtbot, w, "a_blobs.png")
    assert not w.document.can_undo and not w.document.can_redo
