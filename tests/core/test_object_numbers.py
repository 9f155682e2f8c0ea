"""Object (track) numbers in label files: round trip in both layouts, old files, extreme values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mia_core import label_store
from mia_core.label_store import LabelFileError, load_labels, save_labels
from mia_core.labels import Contour, LabelSet

A = np.array([[10, 10], [30, 10], [30, 30], [10, 30]])
B = np.array([[40, 10], [55, 10], [55, 25], [40, 25]])


@pytest.mark.parametrize("mia_format", [False, True])
def test_object_numbers_survive_a_round_trip(tmp_path: Path, mia_format: bool) -> None:
    labels = LabelSet([Contour(1, A, object_id=2**31 - 1), Contour(2, B, object_id=0),
                       Contour(1, B + [0, 30], object_id=17)], (80, 90))
    path = tmp_path / "x.npz"
    save_labels(path, labels, mia_format)
    back = load_labels(path)
    assert [(c.class_id, c.object_id) for c in back] == [(1, 2**31 - 1), (2, 0), (1, 17)]


def test_files_without_object_numbers_load_with_none(tmp_path: Path) -> None:
    arrays = label_store.encode_native(LabelSet([Contour(1, A, object_id=5)], (50, 60)))
    del arrays["object_ids"]
    np.savez(tmp_path / "native.npz", **arrays)
    assert [c.object_id for c in load_labels(tmp_path / "native.npz")] == [0]
    mia = label_store.encode_mia(LabelSet([Contour(3, A, object_id=5)], (50, 60)))
    mia["arr_1"] = np.array([3], dtype=np.int32)  # an MIA record holding the class only
    np.savez(tmp_path / "mia.npz", **mia)
    assert [(c.class_id, c.object_id) for c in load_labels(tmp_path / "mia.npz")] == [(3, 0)]


@pytest.mark.parametrize("value, reason", [(2**31, "above the largest allowed"), (-1, "below the smallest"),
                                           (1.5, "fractional"), (np.nan, "NaN")])
def test_extreme_object_numbers_in_a_file_are_refused(tmp_path: Path, value: float, reason: str) -> None:
    arrays = label_store.encode_native(LabelSet([Contour(1, A, object_id=5)], (50, 60)))
    arrays["object_ids"] = np.array([value], dtype=np.float64 if isinstance(value, float) else np.int64)
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(LabelFileError, match=reason):
        load_labels(path)


def test_assign_object_changes_only_the_contour_under_the_point() -> None:
    labels = LabelSet([Contour(1, A, object_id=3), Contour(1, B, object_id=4)], (80, 90))
    out = labels.assign_object(20, 20, 9)
    assert [c.object_id for c in out] == [9, 4]
    assert out.contours[1] is labels.contours[1]  # untouched contours are shared (the canvas redraws one)
    assert labels.assign_object(70, 70, 9) is labels  # nothing under the point
    assert out.assign_object(20, 20, 9) is out
