"""Label files: layouts, atomic writes, corrupt files kept aside."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from mia_core import label_store
from mia_core.label_store import LabelFileError, LabelStoreError, label_path, load_labels, save_labels
from mia_core.labels import Contour, LabelSet


def sample_labels() -> LabelSet:
    return (
        LabelSet(shape=(100, 120))
        .add_polygon([(10, 10), (60, 10), (60, 60), (10, 60)], 1)
        .subtract_polygon([(20, 20), (30, 20), (30, 30), (20, 30)])
        .subtract_polygon([(40, 40), (50, 40), (50, 50), (40, 50)])
        .add_polygon([(80, 10), (110, 10), (95, 40)], 2)
        .add_polygon([(0, 80), (20, 80), (20, 99), (0, 99)], 0)
    )


def test_label_path_per_image_and_per_frame(tmp_path: Path) -> None:
    img = tmp_path / "cells.tif"
    assert label_path(img) == tmp_path / "Segmentation_labels" / "cells.npz"
    assert label_path(img, frame=3) == tmp_path / "Segmentation_labels" / "cells_frame0003.npz"


def test_native_round_trip_keeps_everything(tmp_path: Path) -> None:
    labels = sample_labels()
    labels = LabelSet([labels.contours[0].replace(object_id=5), *labels.contours[1:]], labels.shape)
    path = tmp_path / "a.npz"
    save_labels(path, labels)
    back = load_labels(path)
    assert back.same_as(labels) and back.shape == (100, 120)
    assert [len(c.holes) for c in back] == [len(c.holes) for c in labels] and sum(len(c.holes) for c in back) == 2
    with np.load(path, allow_pickle=False) as z:  # named keys, flat arrays
        assert int(z["mia_format"]) == 1 and z["outer_points"].dtype == np.int32
        assert z["outer_offsets"][-1] == len(z["outer_points"])


def test_mia_layout_round_trip_and_exact_arrays(tmp_path: Path) -> None:
    labels = sample_labels()
    path = tmp_path / "m.npz"
    save_labels(path, labels, mia_format=True)
    with np.load(path, allow_pickle=False) as z:
        assert int(z["arr_0"]) == 12345678910
        assert len(z.files) == 1 + 3 * len(labels)
        first_holes = z["arr_3"]
        assert first_holes.shape[1:] == (1, 2)
        assert (first_holes[:, 0] == -1).all(axis=1).sum() == 2  # two holes, two markers
    back = load_labels(path)
    assert back.same_as(labels)


def test_reads_a_file_written_in_mias_layout_by_hand(tmp_path: Path) -> None:
    outer = np.array([[[5, 5]], [[5, 30]], [[30, 30]], [[30, 5]]], dtype=np.int32)
    holes = np.array([[[-1, -1]], [[10, 10]], [[10, 15]], [[15, 15]], [[15, 10]]], dtype=np.int32)
    path = tmp_path / "hand.npz"
    np.savez(path, np.array(12345678910), np.array([2, 4]), outer, holes)
    labels = load_labels(path)
    assert len(labels) == 1
    c = labels.contours[0]
    assert (c.class_id, c.object_id, len(c.holes)) == (2, 4, 1)
    assert c.area == 25 * 25 - 5 * 5


def test_reads_mias_legacy_layout_without_holes(tmp_path: Path) -> None:
    path = tmp_path / "legacy.npz"
    square = np.array([[[0, 0]], [[0, 9]], [[9, 9]], [[9, 0]]], dtype=np.int32)
    np.savez(path, np.array(123456789), np.array([1, 0]), square, np.array([3, 0]), square + 20)
    labels = load_labels(path)
    assert [c.class_id for c in labels] == [1, 3]
    assert all(c.holes == () for c in labels)


def test_missing_file_is_empty_and_empty_labels_remove_the_file(tmp_path: Path) -> None:
    path = tmp_path / "Segmentation_labels" / "x.npz"
    assert load_labels(path).is_empty
    save_labels(path, sample_labels())
    assert path.exists()
    save_labels(path, LabelSet())
    assert not path.exists()


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("truncate", "truncated or corrupt"),
        ("garbage", "not an .npz archive"),
        ("empty", "the file is empty"),
        ("missing_key", "missing array 'hole_points'"),
        ("bad_offsets", "bad outer offsets"),
        ("pickled", "Python objects instead of label arrays"),
    ],
)
def test_corrupt_file_gives_a_clear_error_and_is_kept_aside(tmp_path: Path, damage: str, reason: str) -> None:
    path = tmp_path / "c.npz"
    save_labels(path, sample_labels())
    good = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(good[: len(good) // 2])
    elif damage == "garbage":
        path.write_bytes(b"this is not a label file at all" * 10)
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "missing_key":
        arrays = label_store.encode_native(sample_labels())
        del arrays["hole_points"]
        np.savez(path, **arrays)
    elif damage == "bad_offsets":
        arrays = label_store.encode_native(sample_labels())
        arrays["outer_offsets"] = arrays["outer_offsets"][::-1].copy()
        np.savez(path, **arrays)
    elif damage == "pickled":
        np.savez(path, mia_format=np.array(1), class_ids=np.array([object()], dtype=object))
    damaged = path.read_bytes()
    with pytest.raises(LabelFileError) as info:
        load_labels(path)
    assert str(path) in str(info.value)
    assert reason in str(info.value) and "allow_pickle" not in str(info.value)
    assert not path.exists(), "the damaged file must not stay where a save would replace it"
    kept = info.value.kept_as
    assert kept is not None and kept.exists() and kept.read_bytes() == damaged
    assert kept.name.startswith("c.npz.corrupt-")


def test_interrupted_write_leaves_previous_file_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "a.npz"
    first = sample_labels()
    save_labels(path, first)
    before = path.read_bytes()

    real_savez = np.savez

    def failing_savez(fh, **arrays):  # writes part of the archive, then the disk "fails"
        real_savez(fh, **{k: arrays[k] for k in list(arrays)[:3]})
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(label_store.np, "savez", failing_savez)
    with pytest.raises(LabelStoreError, match="No space left"):
        save_labels(path, first.add_polygon([(70, 70), (90, 70), (90, 90)], 3))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.npz"], "no temporary file is left behind"
    assert load_labels(path).same_as(first)


def test_loading_never_allows_pickle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = []
    real_load = np.load

    def spy(*args, **kwargs):
        seen.append(kwargs.get("allow_pickle"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(label_store.np, "load", spy)
    save_labels(tmp_path / "a.npz", sample_labels())
    load_labels(tmp_path / "a.npz")
    assert seen == [False]


def test_newer_layout_version_is_refused_with_a_reason(tmp_path: Path) -> None:
    arrays = label_store.encode_native(sample_labels())
    arrays["mia_format"] = np.array(99)
    np.savez(tmp_path / "v.npz", **arrays)
    before = (tmp_path / "v.npz").read_bytes()
    with pytest.raises(LabelFileError, match="newer") as info:
        load_labels(tmp_path / "v.npz")
    # A newer mia can read it: it stays where it is, untouched.
    assert info.value.kept_as is None and (tmp_path / "v.npz").read_bytes() == before


def test_read_label_file_reports_the_layout(tmp_path: Path) -> None:
    save_labels(tmp_path / "n.npz", sample_labels())
    save_labels(tmp_path / "m.npz", sample_labels(), mia_format=True)
    assert label_store.read_label_file(tmp_path / "n.npz")[1] is False
    assert label_store.read_label_file(tmp_path / "m.npz")[1] is True
    assert label_store.read_label_file(tmp_path / "missing.npz")[1] is False


def test_saved_file_is_a_plain_zip_of_npy_arrays(tmp_path: Path) -> None:
    save_labels(tmp_path / "a.npz", LabelSet([Contour(1, np.array([[1, 1], [1, 5], [5, 5]]))], (10, 10)))
    with zipfile.ZipFile(tmp_path / "a.npz") as z:
        assert all(n.endswith(".npy") for n in z.namelist())
