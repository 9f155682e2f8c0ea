"""Label files whose values are well-formed but extreme: refused (kept aside) or loaded correctly."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mia_core import label_store
from mia_core.label_store import LabelFileError, load_labels, save_labels
from mia_core.labels import MAX_CLASS_ID, Contour, LabelSet

SQUARE = np.array([[10, 10], [30, 10], [30, 30], [10, 30]])


def _native(points: np.ndarray, class_id: int = 1) -> dict[str, np.ndarray]:
    arrays = label_store.encode_native(LabelSet([Contour(1, SQUARE)], (50, 60)))
    arrays["outer_points"] = np.asarray(points)
    arrays["class_ids"] = np.array([class_id], dtype=np.int64)
    return arrays


def _mia(points: np.ndarray, class_id: int = 1) -> dict[str, np.ndarray]:
    arrays = label_store.encode_mia(LabelSet([Contour(1, SQUARE)], (50, 60)))
    arrays["arr_1"] = np.array([class_id, 0], dtype=np.int64)
    arrays["arr_2"] = np.asarray(points).reshape(-1, 1, 2)
    return arrays


LAYOUTS = {"native": _native, "mia": _mia}


def _refused(path: Path, reason: str) -> None:
    damaged = path.read_bytes()
    with pytest.raises(LabelFileError, match=reason) as info:
        load_labels(path)
    assert not path.exists(), "a refused file must be kept aside, never left where a save replaces it"
    assert info.value.kept_as is not None and info.value.kept_as.read_bytes() == damaged


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize(
    "points, reason",
    [
        (SQUARE.astype(np.float64) + np.array([0, np.nan]), "NaN or infinite"),
        (SQUARE.astype(np.float32) * np.array([1, np.inf], dtype=np.float32), "NaN or infinite"),
        (SQUARE + 0.5, "fractional"),
        (SQUARE.astype(np.int64) + 2**32, "above the largest allowed"),  # wrapped to the square before
        (SQUARE.astype(np.int64) - 2**32, "below the smallest allowed"),
        (SQUARE.astype(np.int32) + (2**31 - 100), "above the largest allowed"),  # bbox overflowed before
        (SQUARE.astype(np.uint64) + 2**63, "far beyond"),
    ],
)
def test_extreme_coordinates_are_refused_and_kept_aside(
    tmp_path: Path, layout: str, points: np.ndarray, reason: str
) -> None:
    path = tmp_path / "x.npz"
    np.savez(path, **LAYOUTS[layout](points))
    _refused(path, reason)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_whole_float_coordinates_load_as_the_same_contour(tmp_path: Path, layout: str) -> None:
    path = tmp_path / "f.npz"
    np.savez(path, **LAYOUTS[layout](SQUARE.astype(np.float64)))
    labels = load_labels(path)
    assert np.array_equal(labels.contours[0].outer, SQUARE)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("class_id", [MAX_CLASS_ID + 1, 65535, 2**40, -3])
def test_class_ids_a_class_map_cannot_hold_are_refused(tmp_path: Path, layout: str, class_id: int) -> None:
    path = tmp_path / "c.npz"
    np.savez(path, **LAYOUTS[layout](SQUARE, class_id=class_id))
    _refused(path, "class ids")


def test_largest_class_id_round_trips_into_a_class_map(tmp_path: Path) -> None:
    path = tmp_path / "c.npz"
    np.savez(path, **_native(SQUARE, class_id=MAX_CLASS_ID))
    class_map = load_labels(path).to_class_map((50, 60))
    assert class_map[20, 20] == MAX_CLASS_ID and class_map[0, 0] == -1


@pytest.mark.parametrize(
    "value, newer",
    [(np.array(0), False), (np.array(-1), False), (np.array(1.0), False), (np.array("1"), False),
     (np.array([1, 1]), False), (np.array(np.nan), False), (np.array(2**62), True)],
)
def test_invalid_layout_versions_are_kept_aside_newer_ones_stay(tmp_path: Path, value: np.ndarray, newer: bool) -> None:
    path = tmp_path / "v.npz"
    arrays = label_store.encode_native(LabelSet([Contour(1, SQUARE)], (50, 60)))
    arrays["mia_format"] = value
    np.savez(path, **arrays)
    if newer:
        with pytest.raises(LabelFileError, match="newer") as info:
            load_labels(path)
        assert info.value.kept_as is None and path.exists()
    else:
        _refused(path, "mia_format")


@pytest.mark.parametrize("shape", [(-5, 10), (10, 2**40), (10,)])
def test_absurd_image_shapes_are_refused(tmp_path: Path, shape: tuple[int, ...]) -> None:
    path = tmp_path / "s.npz"
    arrays = label_store.encode_native(LabelSet([Contour(1, SQUARE)], (50, 60)))
    arrays["shape"] = np.array(shape, dtype=np.int64)
    np.savez(path, **arrays)
    _refused(path, "shape")


def _npy_declaring(shape: tuple[int, ...], payload: bytes) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<i4", "fortran_order": False, "shape": shape})
    return buf.getvalue() + payload


@pytest.mark.parametrize("layout, member", [("native", "outer_points"), ("mia", "arr_2")])
def test_array_headers_declaring_absurd_shapes_are_refused_before_reading(
    tmp_path: Path, layout: str, member: str
) -> None:
    path = tmp_path / "h.npz"
    np.savez(path, **LAYOUTS[layout](SQUARE))
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members[f"{member}.npy"] = _npy_declaring((10**12, 2), b"\0" * 64)  # 8 TB declared, 64 bytes held
    with zipfile.ZipFile(path, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    tracemalloc.start()
    try:
        _refused(path, "declares shape")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20


def test_a_contour_reaching_far_outside_the_image_draws_in_bounded_memory() -> None:
    far = 2**23  # allowed, but a raster that size would need terabytes
    outer = np.array([[10, 10], [far, 10], [far, 30], [10, 30]])
    labels = LabelSet([Contour(2, outer)], (50, 60))
    tracemalloc.start()
    try:
        class_map = labels.to_class_map()
        edited = labels.brush([(20, 20)], 3, 2, erase=True)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50 * 2**20
    expected = np.full((50, 60), -1, np.int16)
    expected[10:31, 10:] = 2
    assert np.array_equal(class_map, expected)
    after = edited.to_class_map()
    assert after[20, 20] == -1 and after[12, 50] == 2 and after[40, 40] == -1


def test_contours_refuse_points_that_would_wrap_to_int32() -> None:
    with pytest.raises(ValueError, match="within"):
        Contour(1, SQUARE.astype(np.int64) + 2**32)
    with pytest.raises(ValueError, match="within"):  # int32 already, but its bbox would overflow
        Contour(1, SQUARE.astype(np.int32) + np.int32(2**31 - 20))
    with pytest.raises(ValueError, match="whole"):
        Contour(1, SQUARE + 0.5)


@pytest.mark.parametrize("class_id, object_id", [(MAX_CLASS_ID + 1, 0), (-1, 0), (1, 2**31)])
def test_contours_refuse_ids_no_label_file_could_hold(class_id: int, object_id: int) -> None:
    # Before, a 0/65535 mask imported as class 65535, which no int16 class map can hold.
    with pytest.raises(ValueError, match="class ids go from 0|object numbers must fit"):
        Contour(class_id, SQUARE, object_id=object_id)


def test_a_member_without_the_npy_name_is_checked_too(tmp_path: Path) -> None:
    path = tmp_path / "n.npz"
    np.savez(path, **_native(SQUARE))
    with zipfile.ZipFile(path, "a") as z:
        z.writestr("extra", _npy_declaring((10**12,), b"\0" * 16))
    _refused(path, "declares shape")


def test_a_refused_file_is_never_rewritten_by_the_next_save(tmp_path: Path) -> None:
    path = tmp_path / "w.npz"
    np.savez(path, **_native(SQUARE.astype(np.int64) + 2**32))
    with pytest.raises(LabelFileError) as info:
        load_labels(path)
    kept = info.value.kept_as.read_bytes()
    save_labels(path, LabelSet([Contour(1, SQUARE)], (50, 60)))
    assert info.value.kept_as.read_bytes() == kept
