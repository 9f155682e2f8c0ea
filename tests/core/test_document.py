"""LabelDocument: every change on disk at once, unlimited undo/redo, reset, read-only folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mia_core.document import LabelDocument
from mia_core.label_store import LabelFileError, LabelStoreError, load_labels, save_labels
from mia_core.labels import LabelSet

from core_helpers import square

SHAPE = (100, 100)


@pytest.fixture
def doc(tmp_path: Path) -> LabelDocument:
    return LabelDocument(tmp_path / "img.png", SHAPE)


def on_disk(doc: LabelDocument) -> LabelSet:
    return load_labels(doc.path)


def test_each_edit_is_saved_at_once(doc: LabelDocument) -> None:
    assert not doc.path.exists()
    assert doc.add_polygon(square(10, 10, 20), 1)
    assert on_disk(doc).same_as(doc.labels) and len(on_disk(doc)) == 1
    assert doc.brush([(70, 70)], 5, 2)
    assert len(on_disk(doc)) == 2
    assert doc.slice([(20, 0), (20, 50)], 2)
    assert len(on_disk(doc)) == 3
    assert doc.assign_class(12, 12, 3)
    assert 3 in on_disk(doc).class_ids()
    assert doc.delete_at(70, 70)
    assert 2 not in on_disk(doc).class_ids()


def test_no_op_edit_is_not_a_history_step(doc: LabelDocument) -> None:
    doc.add_polygon(square(10, 10, 20), 1)
    assert not doc.delete_at(90, 90)
    assert not doc.add_polygon(square(10, 10, 20), 1)  # already labelled exactly so
    assert doc.undo() and not doc.can_undo


def test_unlimited_undo_and_redo_reach_disk(doc: LabelDocument) -> None:
    for i in range(12):  # more than MIA's five steps
        doc.add_polygon(square(5 + 7 * (i % 6), 5 + 40 * (i // 6), 5), 1)
    assert len(on_disk(doc)) == 12
    for expected in range(11, -1, -1):
        assert doc.undo()
        assert len(on_disk(doc)) == expected
    assert not doc.path.exists(), "an empty label set removes the file"
    assert not doc.undo()
    for expected in range(1, 13):
        assert doc.redo()
        assert len(on_disk(doc)) == expected
    assert not doc.redo()


def test_a_new_edit_after_undo_drops_the_redo_branch(doc: LabelDocument) -> None:
    doc.add_polygon(square(10, 10, 10), 1)
    doc.add_polygon(square(40, 40, 10), 1)
    doc.undo()
    doc.add_polygon(square(70, 70, 10), 2)
    assert not doc.can_redo
    assert sorted(c.class_id for c in on_disk(doc)) == [1, 2]


def test_reset_removes_everything_and_can_be_undone(doc: LabelDocument) -> None:
    doc.add_polygon(square(10, 10, 10), 1)
    doc.add_polygon(square(40, 40, 10), 2)
    assert doc.reset()
    assert not doc.path.exists() and doc.labels.is_empty
    assert doc.undo()
    assert len(on_disk(doc)) == 2


def test_inner_contours_off_fills_every_hole_at_once(doc: LabelDocument) -> None:
    doc.add_polygon(square(10, 10, 60), 1)
    doc.subtract_polygon(square(20, 20, 10))
    doc.subtract_polygon(square(45, 45, 10))
    assert len(doc.labels.contours[0].holes) == 2
    doc.inner_contours = False
    assert doc.labels.contours[0].holes == () and on_disk(doc).contours[0].holes == ()
    assert doc.undo() and len(on_disk(doc).contours[0].holes) == 2


def test_listeners_hear_every_change(doc: LabelDocument) -> None:
    seen: list[int] = []
    doc.subscribe(lambda labels: seen.append(len(labels)))
    doc.add_polygon(square(10, 10, 10), 1)
    doc.undo()
    doc.redo()
    doc.reset()
    assert seen == [1, 0, 1, 0]


def test_document_opens_existing_labels(tmp_path: Path) -> None:
    first = LabelDocument(tmp_path / "img.png", SHAPE)
    first.add_polygon(square(10, 10, 10), 1)
    again = LabelDocument(tmp_path / "img.png", SHAPE)
    assert again.labels.same_as(first.labels) and again.labels.shape == SHAPE


def test_per_frame_documents_use_separate_files(tmp_path: Path) -> None:
    f0 = LabelDocument(tmp_path / "stack.tif", SHAPE, frame=0)
    f1 = LabelDocument(tmp_path / "stack.tif", SHAPE, frame=1)
    shared = LabelDocument(tmp_path / "stack.tif", SHAPE)
    f0.add_polygon(square(10, 10, 10), 1)
    f1.add_polygon(square(50, 50, 10), 2)
    shared.add_polygon(square(80, 80, 10), 3)
    assert len({f0.path, f1.path, shared.path}) == 3
    assert [c.class_id for c in load_labels(f1.path)] == [2]
    assert [c.class_id for c in load_labels(shared.path)] == [3]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_folder_refuses_edit_and_keeps_state(tmp_path: Path) -> None:
    doc = LabelDocument(tmp_path / "img.png", SHAPE)
    doc.add_polygon(square(10, 10, 10), 1)
    before = doc.path.read_bytes()
    os.chmod(doc.path.parent, 0o555)
    try:
        with pytest.raises(LabelStoreError, match="cannot write"):
            doc.add_polygon(square(50, 50, 10), 2)
        assert len(doc.labels) == 1 and doc.path.read_bytes() == before
    finally:
        os.chmod(doc.path.parent, 0o755)


def test_failed_save_keeps_state(doc: LabelDocument, monkeypatch: pytest.MonkeyPatch) -> None:
    doc.add_polygon(square(10, 10, 10), 1)
    before = doc.path.read_bytes()

    def refuse(*args: object, **kwargs: object) -> None:
        raise LabelStoreError(f"cannot write label file {doc.path}: Read-only file system")

    monkeypatch.setattr("mia_core.document.save_labels", refuse)
    with pytest.raises(LabelStoreError):
        doc.add_polygon(square(50, 50, 10), 2)
    with pytest.raises(LabelStoreError):
        doc.undo()
    assert len(doc.labels) == 1 and doc.can_undo and not doc.can_redo
    assert doc.path.read_bytes() == before


def test_opening_a_corrupt_file_reports_and_keeps_it(tmp_path: Path) -> None:
    doc = LabelDocument(tmp_path / "img.png", SHAPE)
    doc.add_polygon(square(10, 10, 10), 1)
    doc.path.write_bytes(doc.path.read_bytes()[:40])
    with pytest.raises(LabelFileError):
        LabelDocument(tmp_path / "img.png", SHAPE)
    kept = list(doc.path.parent.glob("img.npz.corrupt-*"))
    assert len(kept) == 1
    fresh = LabelDocument(tmp_path / "img.png", SHAPE)
    assert fresh.labels.is_empty
    fresh.add_polygon(square(50, 50, 10), 1)
    assert kept[0].exists(), "a new save never replaces the kept file"


def test_mia_format_document_writes_mia_layout(tmp_path: Path) -> None:
    doc = LabelDocument(tmp_path / "img.png", SHAPE, mia_format=True)
    doc.add_polygon(square(10, 10, 10), 1)
    import numpy as np

    with np.load(doc.path, allow_pickle=False) as z:
        assert int(z["arr_0"]) == 12345678910
    save_labels(doc.path, doc.labels)  # and it reads either way
    assert LabelDocument(tmp_path / "img.png", SHAPE).labels.same_as(doc.labels)


def test_inner_contours_flag_can_be_set_without_rewriting_the_file(tmp_path: Path) -> None:
    doc = LabelDocument(tmp_path / "img.png", SHAPE)
    doc.add_polygon(square(10, 10, 60), 1)
    doc.subtract_polygon(square(20, 20, 10))
    before = doc.path.read_bytes()
    viewer = LabelDocument(tmp_path / "img.png", SHAPE, inner_contours=False)
    assert not viewer.inner_contours and viewer.path.read_bytes() == before
    assert len(viewer.labels.contours[0].holes) == 1
    assert not viewer.set_inner_contours(False, fill_now=False)
    assert viewer.path.read_bytes() == before and not viewer.can_undo
    # Later edits follow the flag: a stroke enclosing an empty area comes out without a hole.
    viewer.brush(square(70, 70, 20) + [(70, 70)], 2, 2)
    assert [len(c.holes) for c in load_labels(viewer.path) if c.class_id == 2] == [0]


def test_a_mia_layout_file_keeps_its_layout_when_edited(tmp_path: Path) -> None:
    import numpy as np

    first = LabelDocument(tmp_path / "img.png", SHAPE, mia_format=True)
    first.add_polygon(square(10, 10, 10), 1)
    doc = LabelDocument(tmp_path / "img.png", SHAPE)  # layout not given: keep the file's
    assert doc.mia_format
    doc.add_polygon(square(50, 50, 10), 2)
    with np.load(doc.path, allow_pickle=False) as z:
        assert int(z["arr_0"]) == 12345678910 and len(z.files) == 1 + 3 * 2
    assert not LabelDocument(tmp_path / "other.png", SHAPE).mia_format, "new files are native"


def test_a_locked_document_refuses_every_change(doc: LabelDocument) -> None:
    doc.add_polygon(square(10, 10, 10), 1)
    before = doc.path.read_bytes()
    doc.locked = "the label file could not be read"
    for change in (lambda: doc.add_polygon(square(50, 50, 10), 2), doc.undo, doc.reset):
        with pytest.raises(LabelStoreError, match="could not be read"):
            change()
    assert doc.path.read_bytes() == before and len(doc.labels) == 1


def test_undo_of_the_hole_fill_turns_inner_contours_back_on(doc: LabelDocument) -> None:
    doc.add_polygon(square(10, 10, 60), 1)
    doc.subtract_polygon(square(30, 30, 10))
    assert doc.set_inner_contours(False)
    assert not doc.inner_contours and doc.labels.contours[0].holes == ()
    doc.add_polygon(square(80, 80, 10), 1)  # a later edit made with the switch off
    assert doc.undo() and not doc.inner_contours  # undoing that edit leaves the switch alone
    assert doc.undo()  # undoing the fill: holes back, switch back on
    assert doc.inner_contours and len(on_disk(doc).contours[0].holes) == 1
    assert doc.redo() and not doc.inner_contours and on_disk(doc).contours[0].holes == ()


def test_switching_off_with_no_hole_is_no_step_and_cuts_make_no_hole(doc: LabelDocument) -> None:
    doc.add_polygon(square(10, 10, 60), 1)
    assert not doc.set_inner_contours(False)  # nothing to fill: no history step
    assert not doc.inner_contours and doc.undo() and not doc.inner_contours
    doc.redo()
    assert not doc.subtract_polygon(square(30, 30, 10))  # inside the contour: nothing to do
    assert doc.labels.contours[0].holes == ()


def test_a_hole_fill_that_is_not_saved_leaves_the_switch_on(doc: LabelDocument) -> None:
    doc.add_polygon(square(10, 10, 60), 1)
    doc.subtract_polygon(square(30, 30, 10))
    save_labels(doc.path, LabelSet(shape=SHAPE).add_polygon(square(5, 5, 80), 1).subtract_polygon(square(30, 30, 10)))
    doc.on_conflict = lambda d: "cancel"  # someone else changed the file; the user cancels
    assert not doc.set_inner_contours(False)
    assert doc.inner_contours and len(doc.labels.contours[0].holes) == 1
