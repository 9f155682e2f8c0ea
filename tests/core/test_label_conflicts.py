"""A label file changed on disk by another writer is never silently written over."""

from __future__ import annotations

from pathlib import Path

import pytest

from mia_core.document import LabelDocument
from mia_core.label_store import LabelConflictError, LabelStoreError, file_stamp, load_labels, save_labels
from mia_core.labels import LabelSet

from core_helpers import square

SHAPE = (100, 100)


def theirs() -> LabelSet:
    """What the other writer puts there: one class-2 square."""
    return LabelSet(()).add_polygon(square(60, 60, 20), 2)


def test_an_edit_over_a_file_another_writer_changed_raises_and_writes_nothing(tmp_path: Path) -> None:
    doc = LabelDocument(tmp_path / "img.png", SHAPE)
    doc.add_polygon(square(10, 10, 20), 1)
    save_labels(doc.path, theirs())  # e.g. mia labels import-masks --force, a colleague, a sync tool
    with pytest.raises(LabelConflictError) as info:
        doc.add_polygon(square(40, 40, 10), 1)
    assert isinstance(info.value, LabelStoreError)  # callers that handle write errors handle this too
    assert str(doc.path) in str(info.value) and "changed on disk" in str(info.value)
    assert load_labels(doc.path).class_ids() == [2]  # their labels are intact
    assert doc.labels.class_ids() == [1] and len(doc.labels) == 1  # the edit was not applied
    with pytest.raises(LabelConflictError):
        doc.undo()  # undo writes too


def test_a_file_created_or_removed_behind_the_document_is_a_conflict(tmp_path: Path) -> None:
    doc = LabelDocument(tmp_path / "img.png", SHAPE)  # no label file yet
    save_labels(doc.path, theirs())
    with pytest.raises(LabelConflictError):
        doc.add_polygon(square(10, 10, 20), 1)
    doc.reload()
    doc.add_polygon(square(10, 10, 20), 1)
    doc.path.unlink()
    with pytest.raises(LabelConflictError):
        doc.add_polygon(square(40, 40, 10), 3)


def test_two_writes_of_the_same_size_within_one_clock_tick_are_told_apart(tmp_path: Path) -> None:
    path = tmp_path / "a.npz"
    save_labels(path, theirs())
    first = file_stamp(path)
    save_labels(path, theirs())  # same bytes, same size, maybe the same mtime: a new inode
    assert file_stamp(path) != first
    assert file_stamp(tmp_path / "none.npz") is None


def test_reload_takes_the_disk_version_as_an_undoable_step(tmp_path: Path) -> None:
    doc = LabelDocument(tmp_path / "img.png", SHAPE)
    doc.add_polygon(square(10, 10, 20), 1)
    save_labels(doc.path, theirs())
    doc.reload()
    assert doc.labels.class_ids() == [2] and not doc.disk_changed()
    doc.add_polygon(square(10, 10, 10), 3)  # now edits go on top of theirs
    assert load_labels(doc.path).class_ids() == [2, 3]
    doc.undo()
    doc.undo()  # back to this document's own labels, written deliberately
    assert load_labels(doc.path).class_ids() == [1]


def test_keep_mine_writes_the_documents_labels_over_theirs(tmp_path: Path) -> None:
    doc = LabelDocument(tmp_path / "img.png", SHAPE)
    doc.add_polygon(square(10, 10, 20), 1)
    save_labels(doc.path, theirs())
    doc.keep_mine()
    assert load_labels(doc.path).class_ids() == [1]
    doc.add_polygon(square(50, 50, 20), 3)
    assert load_labels(doc.path).class_ids() == [1, 3]


@pytest.mark.parametrize("choice, on_disk", [("reload", [2]), ("keep", [1, 3]), ("cancel", [2])])
def test_a_resolver_decides_instead_of_the_error(tmp_path: Path, choice: str, on_disk: list[int]) -> None:
    doc = LabelDocument(tmp_path / "img.png", SHAPE)
    doc.add_polygon(square(10, 10, 20), 1)
    asked = []
    doc.on_conflict = lambda d: asked.append(d) or choice
    save_labels(doc.path, theirs())
    changed = doc.add_polygon(square(50, 50, 20), 3)
    assert asked == [doc]
    assert changed is (choice == "keep")
    assert load_labels(doc.path).class_ids() == on_disk
    expected_in_memory = [1] if choice == "cancel" else on_disk  # cancel: the edit is dropped
    assert doc.labels.class_ids() == expected_in_memory
