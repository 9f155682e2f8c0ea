"""Bad input: unreadable images, label folders that cannot be written, corrupt label and settings files."""

from __future__ import annotations

import json
import os

import pytest
from PyQt5.QtCore import Qt
from PyQt5.QtTest import QTest

import mia_core.label_store as label_store
from mia_core.label_store import LABEL_FOLDER, label_path, load_labels

from viewer_helpers import wait_loaded

SQUARE = [(20, 20), (60, 20), (60, 60), (20, 60)]


def draw_polygon(w, mouse, corners) -> None:
    QTest.keyClick(w, Qt.Key_F3)
    for x, y in corners:
        mouse.click(x, y)
    mouse.click(5, 110, Qt.RightButton)


def test_unreadable_file_is_greyed_out_with_reason_and_the_app_goes_on(make_window, mouse_for, image_folder, qtbot):
    w = make_window(image_folder)
    broken = image_folder / "d_broken.png"
    assert w.image_list.state(broken) == "unreadable"  # found by the background scan
    assert "not a valid png" in w.image_list.reason(broken)
    item = w.image_list.list.item(3)
    assert "cannot be read" in item.text() and "not a valid png" in item.toolTip()
    assert item.foreground().color().name() == "#8e8e93"
    w.image_list.select(broken)
    qtbot.waitUntil(lambda: not w.loader.busy and w.image is None)
    assert "Cannot open d_broken.png" in w.status.message.text()
    assert w.status.last_error.startswith("Cannot open d_broken.png: not a valid png")
    assert w.canvas.message.isVisible()
    assert w.tool_context() is None  # nothing to edit, clicks do nothing
    mouse = mouse_for(w)
    draw_polygon(w, mouse, SQUARE)
    assert not (image_folder / LABEL_FOLDER).exists()
    QTest.keyClick(w, Qt.Key_PageUp)
    wait_loaded(qtbot, w, "c_stack.tif")
    QTest.keyClick(w, Qt.Key_PageUp)
    wait_loaded(qtbot, w, "b_blobs.png")
    draw_polygon(w, mouse, SQUARE)
    assert len(load_labels(label_path(image_folder / "b_blobs.png"))) == 1


def test_label_folder_that_cannot_be_created_refuses_edits_clearly(make_window, mouse_for, image_folder):
    (image_folder / LABEL_FOLDER).write_text("a file where the label folder should be")
    w = make_window(image_folder)
    mouse = mouse_for(w)
    draw_polygon(w, mouse, SQUARE)
    assert w.status.last_error.startswith("Edit not saved: cannot write label file")
    assert "a_blobs.npz" in w.status.last_error
    assert w.status.saved.text() == "NOT saved"
    assert w.document.labels.is_empty and w.canvas.contours.items == {}
    assert (image_folder / LABEL_FOLDER).read_text().startswith("a file")


def test_write_failure_keeps_the_labels_on_disk_and_on_screen(make_window, mouse_for, image_folder, monkeypatch):
    w = make_window(image_folder)
    mouse = mouse_for(w)
    path = label_path(image_folder / "a_blobs.png")
    draw_polygon(w, mouse, SQUARE)
    before = path.read_bytes()

    def refuse(*_args, **_kw):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(label_store, "atomic_savez", refuse)
    draw_polygon(w, mouse, [(90, 30), (130, 30), (130, 80), (90, 80)])
    assert "Permission denied" in w.status.last_error and "not saved" in w.status.last_error
    assert path.read_bytes() == before
    assert len(w.document.labels) == 1 and len(w.canvas.contours.items) == 1 and w.canvas.contours.classes == {1}
    monkeypatch.undo()  # writable again: the next edit lands
    draw_polygon(w, mouse, [(90, 30), (130, 30), (130, 80), (90, 80)])
    assert len(load_labels(path)) == 2 and w.status.saved.text().startswith("saved")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only folders")
def test_read_only_folder(make_window, mouse_for, image_folder):
    (image_folder / LABEL_FOLDER).mkdir()
    os.chmod(image_folder / LABEL_FOLDER, 0o555)
    os.chmod(image_folder, 0o555)
    try:
        w = make_window(image_folder)
        assert "read-only" in w.status.last_error
        draw_polygon(w, mouse_for(w), SQUARE)
        assert "not saved" in w.status.last_error
        assert not label_path(image_folder / "a_blobs.png").exists()
    finally:
        os.chmod(image_folder, 0o755)
        os.chmod(image_folder / LABEL_FOLDER, 0o755)


def test_read_only_folder_as_any_user(make_window, mouse_for, image_folder, monkeypatch):
    """The same as above for root too (root writes through permissions): the OS says no."""
    import mia_core.viewer.window as window_module

    real_access = os.access
    monkeypatch.setattr(
        window_module.os, "access", lambda p, mode: False if mode == os.W_OK else real_access(p, mode)
    )

    def read_only(*_args, **_kw):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(label_store, "atomic_savez", read_only)
    w = make_window(image_folder)
    assert "read-only" in w.status.last_error
    draw_polygon(w, mouse_for(w), SQUARE)
    assert "Read-only file system" in w.status.last_error and "not saved" in w.status.last_error
    assert w.status.saved.text() == "NOT saved"
    assert w.document.labels.is_empty and not label_path(image_folder / "a_blobs.png").exists()


def test_unreadable_label_file_that_cannot_be_moved_is_left_alone(make_window, mouse_for, image_folder, monkeypatch):
    folder = image_folder / LABEL_FOLDER
    folder.mkdir()
    (folder / "a_blobs.npz").write_bytes(b"PK\x03\x04 truncated")
    monkeypatch.setattr(label_store, "keep_aside", lambda path: None)  # the rename fails
    w = make_window(image_folder)
    assert "a_blobs.npz" in w.status.last_error and "editing these labels is disabled" in w.status.last_error
    draw_polygon(w, mouse_for(w), SQUARE)
    assert "cannot be edited" in w.status.last_error
    assert (folder / "a_blobs.npz").read_bytes() == b"PK\x03\x04 truncated"


def test_corrupt_label_file_is_reported_and_kept_aside(make_window, mouse_for, image_folder):
    folder = image_folder / LABEL_FOLDER
    folder.mkdir()
    (folder / "a_blobs.npz").write_bytes(b"PK\x03\x04 truncated")
    w = make_window(image_folder)
    assert "a_blobs.npz" in w.status.last_error and "kept aside" in w.status.last_error
    kept = [p.name for p in folder.iterdir() if ".corrupt-" in p.name]
    assert len(kept) == 1
    draw_polygon(w, mouse_for(w), SQUARE)
    assert len(load_labels(folder / "a_blobs.npz")) == 1
    assert (folder / kept[0]).read_bytes() == b"PK\x03\x04 truncated"


def test_corrupt_settings_file_falls_back_to_defaults(make_window, image_folder, isolated_settings):
    isolated_settings.mkdir(parents=True)
    (isolated_settings / "settings.json").write_text("{ not json")
    w = make_window(image_folder)
    assert "settings.json" in w.status.last_error and "not valid JSON" in w.status.last_error
    assert w.settings.last_folder == str(image_folder.resolve())  # working, with defaults
    assert any(".corrupt-" in p.name for p in isolated_settings.iterdir())


def test_bad_classes_file_is_named(make_window, image_folder):
    folder = image_folder / LABEL_FOLDER
    folder.mkdir()
    (folder / "classes.json").write_text(json.dumps({"classes": [{"name": "bg", "colour": "red"}]}))
    w = make_window(image_folder)
    assert "classes.json" in w.status.last_error and "#rrggbb" in w.status.last_error
    assert [c.name for c in w.class_panel.classes] == ["background", "class 1"]


def test_missing_folder_is_reported(make_window, tmp_path):
    w = make_window(None)
    assert not w.open_folder(tmp_path / "nowhere")
    assert "does not exist" in w.status.last_error and "nowhere" in w.status.last_error
