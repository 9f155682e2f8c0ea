"""Label files: ``Segmentation_labels/<stem>.npz`` beside the images, native and MIA layouts.

Writes are atomic (temporary file in the same folder, flushed and synced, then renamed), so an
interrupted write leaves the previous file intact. A file that cannot be read is renamed aside and
reported, never silently replaced.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from mia_core.atomic import atomic_open, keep_aside
from mia_core.labels import MAX_CLASS_ID, MAX_COORDINATE, Contour, LabelSet

LABEL_FOLDER = "Segmentation_labels"
NATIVE_VERSION = 1
MIA_MAGIC = 12345678910  # MIA's layout with holes
MIA_MAGIC_LEGACY = 123456789  # MIA's older layout without holes


class LabelFileError(ValueError):
    """A label file exists but cannot be read; it has been renamed to ``kept_as``."""

    def __init__(self, path: Path, reason: str, kept_as: Path | None = None) -> None:
        self.path, self.reason, self.kept_as = Path(path), reason, kept_as
        where = f"; it was kept aside as {kept_as.name}" if kept_as else ""
        super().__init__(f"cannot read label file {path}: {reason}{where}")


class LabelVersionError(ValueError):
    """A label file written by a newer mia: readable by that version, so it is never moved aside."""


class LabelStoreError(OSError):
    """A label file cannot be written (read-only folder, full disk ...); nothing was changed."""


class LabelConflictError(LabelStoreError):
    """The label file changed on disk since it was loaded; writing now would lose that change."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        super().__init__(
            f"label file {path} changed on disk since it was loaded (another program or mia command "
            "wrote it); nothing was written: reload() takes the file on disk, keep_mine() writes yours over it"
        )


#: What identifies one version of a file: inode, modification time (ns) and size. mia's atomic
#: writes give every version a new inode, so two mia writes within one clock tick still differ.
FileStamp = tuple[int, int, int]


def file_stamp(path: str | os.PathLike[str]) -> FileStamp | None:
    """The version of a file on disk now, None when there is no file (or it cannot be looked at)."""
    try:
        st = os.stat(path)
    except OSError:  # missing, a file where the label folder should be, no permission ...
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def label_path(image_path: str | os.PathLike[str], frame: int | None = None) -> Path:
    """Where the labels of an image (or of one frame of a stack) are stored."""
    image_path = Path(image_path)
    stem = image_path.stem if frame is None else f"{image_path.stem}_frame{int(frame):04d}"
    return image_path.parent / LABEL_FOLDER / f"{stem}.npz"


def load_labels(path: str | os.PathLike[str]) -> LabelSet:
    """Read a label file in the native or MIA layout; a missing file is an empty label set."""
    return read_label_file(path)[0]


def read_label_file(path: str | os.PathLike[str]) -> tuple[LabelSet, bool]:
    """Read a label file and say whether it is in MIA's layout (so edits can keep that layout)."""
    path = Path(path)
    if not path.exists():
        return LabelSet(), False
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
        if head != b"PK\x03\x04":
            raise ValueError("not an .npz archive" if head else "the file is empty")
        _check_array_sizes(path)
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
        return _decode(arrays), "mia_format" not in arrays
    except PermissionError:
        raise
    except LabelVersionError as exc:
        raise LabelFileError(path, str(exc)) from exc  # a newer mia's file: left where it is
    except (ValueError, KeyError, IndexError, TypeError, EOFError, OSError, zipfile.BadZipFile) as exc:
        kept = keep_aside(path)
        raise LabelFileError(path, _reason(exc), kept) from exc


def save_labels(path: str | os.PathLike[str], labels: LabelSet, mia_format: bool = False) -> None:
    """Write labels atomically; an empty label set removes the file."""
    path = Path(path)
    try:
        if labels.is_empty:
            if path.exists():
                path.unlink()
            return
        arrays = encode_mia(labels) if mia_format else encode_native(labels)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_savez(path, arrays)
    except OSError as exc:
        if isinstance(exc, LabelStoreError):
            raise
        raise LabelStoreError(f"cannot write label file {path}: {exc.strerror or exc}") from exc


def atomic_savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write an uncompressed .npz through a temporary file and a rename."""
    with atomic_open(path, "wb") as fh:
        np.savez(fh, **arrays)


# --- native layout -----------------------------------------------------------------------------
def encode_native(labels: LabelSet) -> dict[str, np.ndarray]:
    """Flat point arrays plus offsets, with named keys (layout in docs/architecture.md)."""
    cs = labels.contours
    outer_len = [len(c.outer) for c in cs]
    holes = [h for c in cs for h in c.holes]
    return {
        "mia_format": np.array(NATIVE_VERSION, dtype=np.int64),
        "shape": np.array(labels.shape or (0, 0), dtype=np.int64),
        "class_ids": np.array([c.class_id for c in cs], dtype=np.int32),
        "object_ids": np.array([c.object_id for c in cs], dtype=np.int32),
        "outer_offsets": np.concatenate([[0], np.cumsum(outer_len)]).astype(np.int64),
        "outer_points": _concat([c.outer for c in cs]),
        "hole_counts": np.array([len(c.holes) for c in cs], dtype=np.int32),
        "hole_offsets": np.concatenate([[0], np.cumsum([len(h) for h in holes])]).astype(np.int64),
        "hole_points": _concat(holes),
    }


def _concat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts).astype(np.int32) if parts else np.zeros((0, 2), dtype=np.int32)


def _decode(arrays: dict[str, np.ndarray]) -> LabelSet:
    if "mia_format" in arrays:
        return decode_native(arrays)
    if "arr_0" in arrays:
        return decode_mia(arrays)
    raise ValueError("neither a mia nor an MIA label layout")


def decode_native(a: dict[str, np.ndarray]) -> LabelSet:
    """Rebuild a LabelSet from the native layout, checking every offset."""
    version = _layout_version(a["mia_format"])
    if version > NATIVE_VERSION:
        raise LabelVersionError(
            f"label layout version {version} is newer than this mia reads ({NATIVE_VERSION}); update mia"
        )
    classes = _whole(a["class_ids"], "class ids", 0, MAX_CLASS_ID)
    # A file without object numbers (written before tracking existed) numbers nothing.
    raw_objects = a["object_ids"] if "object_ids" in a else np.zeros(len(a["class_ids"]), dtype=np.int32)
    objects = _whole(raw_objects, "object ids", 0, _INT32_MAX)
    oo, op = _whole(a["outer_offsets"], "outer offsets"), _points(a["outer_points"], "outer points")
    hc, ho = _whole(a["hole_counts"], "hole counts"), _whole(a["hole_offsets"], "hole offsets")
    hp = _points(a["hole_points"], "hole points")
    n = len(classes)
    _check(len(objects) == n and len(hc) == n and len(oo) == n + 1, "contour arrays disagree in length")
    _check(oo[0] == 0 and oo[-1] == len(op) and np.all(np.diff(oo) > 0), "bad outer offsets")
    _check(len(ho) == int(hc.sum()) + 1 and ho[0] == 0 and ho[-1] == len(hp), "bad hole offsets")
    _check(np.all(np.diff(ho) > 0) and np.all(hc >= 0), "bad hole offsets")
    shape = tuple(int(v) for v in _whole(a["shape"], "image shape", 0, MAX_COORDINATE))
    _check(len(shape) == 2, f"the image shape has {len(shape)} values instead of 2")
    contours = []
    h = 0
    for i in range(n):
        holes = tuple(hp[ho[h + k] : ho[h + k + 1]] for k in range(int(hc[i])))
        h += int(hc[i])
        contours.append(Contour(int(classes[i]), op[oo[i] : oo[i + 1]], holes, int(objects[i])))
    return LabelSet(contours, shape if shape != (0, 0) else None)


def _check(ok: Any, reason: str) -> None:
    if not ok:
        raise ValueError(reason)


_INT32_MAX = int(np.iinfo(np.int32).max)


def _layout_version(value: np.ndarray) -> int:
    """The native layout version: one whole number >= 1 (a larger one is a newer mia's file)."""
    arr = np.asarray(value)
    _check(arr.size == 1 and np.issubdtype(arr.dtype, np.integer),
           f"mia_format must be one whole number, got {arr.dtype} of shape {arr.shape}")
    version = int(arr.ravel()[0])
    _check(version >= 1, f"mia_format {version} is not a layout version (they start at 1)")
    return version


def _whole(value: np.ndarray, what: str, lo: int | None = None, hi: int | None = None) -> np.ndarray:
    """An array of whole numbers as int64, within [lo, hi] where given (floats only when whole)."""
    arr = np.asarray(value)
    if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"the {what} are {arr.dtype} values, not whole numbers")
    if np.issubdtype(arr.dtype, np.floating):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"the {what} hold NaN or infinite values")
        if not np.array_equal(arr, np.round(arr)):
            raise ValueError(f"the {what} hold fractional values")
        if arr.size and (arr.min() < -(2.0**62) or arr.max() > 2.0**62):
            raise ValueError(f"the {what} hold values far beyond what mia handles")
    elif arr.dtype == np.uint64 and arr.size and int(arr.max()) > 2**62:
        raise ValueError(f"the {what} hold values far beyond what mia handles")
    out = arr.astype(np.int64)
    if out.size and lo is not None and int(out.min()) < lo:
        raise ValueError(f"the {what} hold {int(out.min())}, below the smallest allowed ({lo})")
    if out.size and hi is not None and int(out.max()) > hi:
        raise ValueError(f"the {what} hold {int(out.max())}, above the largest allowed ({hi})")
    return out


def _points(value: np.ndarray, what: str) -> np.ndarray:
    """Contour points as (N, 2) int32, refused when a coordinate is outside what mia handles."""
    arr = np.asarray(value)
    _check(arr.ndim >= 1 and arr.shape[-1] == 2, f"the {what} are not x, y pairs (shape {arr.shape})")
    pts = _whole(arr, what, -MAX_COORDINATE, MAX_COORDINATE)
    return pts.reshape(-1, 2).astype(np.int32)


def _check_array_sizes(path: Path) -> None:
    """Refuse arrays whose header declares more data than the archive member holds (before any read)."""
    from numpy.lib import format as npy

    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            with archive.open(info) as fh:
                if fh.read(len(npy.MAGIC_PREFIX)) != npy.MAGIC_PREFIX:
                    continue  # not an array (np.load hands such members back as bytes)
                version = (fh.read(1)[0], fh.read(1)[0])
                if version == (1, 0):
                    shape, _, dtype = npy.read_array_header_1_0(fh)
                elif version == (2, 0):
                    shape, _, dtype = npy.read_array_header_2_0(fh)
                else:
                    shape, _, dtype = npy._read_array_header(fh, version)  # noqa: SLF001 - 3.0 headers
                header = fh.tell()
            declared = int(np.prod([int(n) for n in shape], dtype=object)) * int(dtype.itemsize)
            name = info.filename[: -len(".npy")] if info.filename.endswith(".npy") else info.filename
            if declared > info.file_size - header:
                raise ValueError(
                    f"array {name!r} declares shape {tuple(shape)} ({declared} bytes), more than the file holds"
                )
            if declared > _MAX_ARRAY_BYTES:
                raise ValueError(f"array {name!r} holds {declared} bytes, more than any label file needs")


_MAX_ARRAY_BYTES = 2**31


# --- MIA's layout ------------------------------------------------------------------------------
def encode_mia(labels: LabelSet) -> dict[str, np.ndarray]:
    """MIA's layout: a magic number, then [class, object], outer (N,1,2), holes (M,1,2) per contour."""
    out: dict[str, np.ndarray] = {"arr_0": np.array(MIA_MAGIC, dtype=np.int64)}
    k = 1
    for c in labels.contours:
        packed = [np.vstack([[-1, -1], h]) for h in c.holes]
        holes = np.concatenate(packed).astype(np.int32) if packed else np.zeros((0, 2), dtype=np.int32)
        out[f"arr_{k}"] = np.array([c.class_id, c.object_id], dtype=np.int32)
        out[f"arr_{k + 1}"] = c.outer.reshape(-1, 1, 2).astype(np.int32)
        out[f"arr_{k + 2}"] = holes.reshape(-1, 1, 2)
        k += 3
    return out


def decode_mia(a: dict[str, np.ndarray]) -> LabelSet:
    """Read MIA's layout (with holes, or the legacy one without)."""
    marker = np.asarray(a["arr_0"]).ravel()
    _check(marker.size >= 1, "MIA label file without a layout marker")
    magic = int(_whole(marker[:1], "layout marker")[0])
    if magic == MIA_MAGIC:
        step = 3
    elif magic == MIA_MAGIC_LEGACY:
        step = 2
    else:
        raise ValueError(f"unknown MIA label layout marker {magic}")
    count = len([k for k in a if k.startswith("arr_")]) - 1
    _check(count % step == 0, "MIA label file has an incomplete contour record")
    contours = []
    for k in range(1, count + 1, step):
        head = np.asarray(a[f"arr_{k}"]).ravel()
        _check(head.size >= 1, "MIA contour record without a class")
        cls = int(_whole(head[:1], "class ids", 0, MAX_CLASS_ID)[0])
        obj = int(_whole(head[1:2], "object ids", None, _INT32_MAX)[0]) if head.size > 1 else 0
        obj = max(obj, 0)
        outer = _points(a[f"arr_{k + 1}"], "outer points")
        holes: tuple[np.ndarray, ...] = ()
        if step == 3:
            packed = np.asarray(a[f"arr_{k + 2}"])
            holes = _split_holes(_points(packed, "hole points") if packed.size else np.zeros((0, 2), np.int32))
        _check(len(outer) > 0, "MIA contour with no points")
        contours.append(Contour(cls, outer, holes, obj))
    return LabelSet(contours)


def _split_holes(packed: np.ndarray) -> tuple[np.ndarray, ...]:
    """Holes packed one after another, each preceded by a [-1, -1] point."""
    if len(packed) == 0:
        return ()
    starts = np.nonzero(np.all(packed == -1, axis=1))[0]
    _check(len(starts) and starts[0] == 0, "MIA hole array does not start with a [-1, -1] marker")
    bounds = list(starts) + [len(packed)]
    holes = tuple(packed[s + 1 : e] for s, e in zip(bounds[:-1], bounds[1:]))
    _check(all(len(h) for h in holes), "MIA hole with no points")
    return holes


# --- corrupt files -----------------------------------------------------------------------------
def _reason(exc: BaseException) -> str:
    if isinstance(exc, zipfile.BadZipFile):
        return "not a valid .npz archive (truncated or corrupt)"
    if isinstance(exc, EOFError):
        return "the file ends early (truncated)"
    if isinstance(exc, KeyError):
        return f"missing array {exc}"
    if isinstance(exc, ValueError) and ("pickle" in str(exc) or "Object arrays" in str(exc)):
        return "it holds Python objects instead of label arrays (not a mia or MIA label file)"
    return str(exc) or type(exc).__name__
