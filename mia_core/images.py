"""Image and stack reading, and display scaling.

Every image comes back shaped ``(frames, H, W)`` (grey) or ``(frames, H, W, 3)`` (RGB) in the
file's own dtype, so callers never special-case single images, stacks or channel orders.
png, jpg and bmp are decoded by OpenCV; tif/tiff (including multi-page stacks) by tifffile.
Any failure is one :class:`ImageReadError` that names the file and the reason.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - typing only
    import tifffile

__all__ = [
    "IMAGE_SUFFIXES",
    "ImageReadError",
    "image_shape",
    "list_images",
    "read_image",
    "to_display",
]

#: File suffixes (lower case) that mia reads as images.
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")

_TIFF_SUFFIXES = (".tif", ".tiff")
#: Folder that holds label files beside the images; never listed as images.
_LABELS_FOLDER = "Segmentation_labels"

# PIL modes (header only) -> channels OpenCV's IMREAD_UNCHANGED decode gives after our RGB step.
_GREY_MODES = frozenset({"1", "L", "I", "F", "I;16", "I;16B", "I;16L", "I;16N"})
_COLOUR_MODES = frozenset({"RGB", "RGBA", "RGBX", "P", "PA", "LA", "CMYK", "YCbCr"})


class ImageReadError(ValueError):
    """An image file that is missing, empty, truncated, or not an image we can read."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"cannot read image {self.path}: {reason}")


def read_image(path: str | os.PathLike[str], notes: list[str] | None = None) -> np.ndarray:
    """Read an image or stack as ``(frames, H, W)`` or ``(frames, H, W, 3)`` in the file's dtype.

    What was left out of the file (reduced-resolution TIFF pages) is appended to ``notes`` and
    logged once as a warning on the ``mia`` logger, which the command line shows.
    """
    p = Path(path)
    suffix = _check_file(p)
    if suffix in _TIFF_SUFFIXES:
        found: list[str] = []
        data = _read_tiff(p, found)
        _tell(p, found, notes)
        return data
    return _read_cv2(p)


def image_shape(path: str | os.PathLike[str], notes: list[str] | None = None) -> tuple[int, ...]:
    """The shape :func:`read_image` would return, from the header alone so folders list fast.

    Only the header is checked: a file truncated inside its pixel data passes here and fails in
    :func:`read_image`.
    """
    p = Path(path)
    suffix = _check_file(p)
    if suffix in _TIFF_SUFFIXES:
        try:
            with _tiff_errors_raise(p):
                import tifffile

                with tifffile.TiffFile(p) as tif:
                    found: list[str] = []
                    series = _stack_series(tif, found)
                    _tell(p, found, notes)
                    axes = ("Q" if len(series) > 1 else "") + series[0].axes
                    full = ((len(series),) if len(series) > 1 else ()) + tuple(series[0].shape)
                    shape, _ = _tiff_layout(full, axes)
        except ImageReadError:
            raise
        except TiffPagesError as exc:
            raise ImageReadError(p, str(exc)) from exc
        except Exception as exc:  # tifffile raises many types for a bad file
            raise ImageReadError(p, f"not a readable TIFF ({exc})") from exc
        _check_shape(p, shape)
        return shape
    header = _pil_header_shape(p)
    if header is not None:
        return header
    return tuple(read_image(p).shape)


def list_images(folder: str | os.PathLike[str]) -> list[Path]:
    """The image files directly in ``folder``, sorted by name; hidden files and label folders skipped."""
    root = Path(folder)
    if not root.is_dir():
        raise ImageReadError(root, "image folder not found" if not root.exists() else "not a folder")
    if root.name == _LABELS_FOLDER:
        return []
    found = [
        entry
        for entry in root.iterdir()
        if entry.suffix.lower() in IMAGE_SUFFIXES and not entry.name.startswith(".") and entry.is_file()
    ]
    return sorted(found, key=lambda e: (e.name.lower(), e.name))


def to_display(frame: np.ndarray, levels: tuple[float, float] | None = None) -> np.ndarray:
    """Scale one frame to uint8 for display, in float64 so no dtype can wrap or overflow.

    The float64 work runs in bands of rows, so memory stays near the size of the output.

    ``levels`` (lo, hi) map to 0 and 255; by default the frame's finite min and max. NaN shows as
    0 and +/-inf clip to the ends. A constant frame (lo == hi) is shown against its dtype's full
    range (integers) or against (0, 1) (floats), so it neither divides by zero nor turns black.
    """
    values = np.asarray(frame)
    if values.size == 0:
        return np.zeros(values.shape, np.uint8)
    lo, hi = _display_levels(values) if levels is None else (float(levels[0]), float(levels[1]))
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"display levels must be finite numbers, got {levels!r}")
    if hi < lo:
        raise ValueError(f"display levels must satisfy lo <= hi, got {levels!r}")
    out = np.empty(values.shape, np.uint8)
    rows = max(1, _DISPLAY_BAND // max(1, values[:1].size))  # float64 work in bands: bounded memory
    for r in range(0, values.shape[0], rows):
        out[r:r + rows] = _scale_band(values[r:r + rows], lo, hi)
    return out


_DISPLAY_BAND = 1 << 20  # values per band of rows scaled at once (8 MiB of float64)


def _scale_band(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """One band of rows of :func:`to_display`, scaled in float64 so no dtype can wrap."""
    out = values.astype(np.float64)  # a copy; every step below works in place on it
    if hi == lo:  # explicit equal levels: a threshold at lo
        return np.where(out > lo, 255, 0).astype(np.uint8)  # NaN compares False -> 0
    out -= lo
    out /= hi - lo
    out *= 255.0
    np.nan_to_num(out, copy=False, nan=0.0, posinf=255.0, neginf=0.0)
    np.clip(out, 0.0, 255.0, out=out)
    np.rint(out, out=out)
    return out.astype(np.uint8)


def _display_levels(values: np.ndarray) -> tuple[float, float]:
    """Default display levels: finite min/max, widened for constant frames."""
    if values.dtype == np.bool_:
        return 0.0, 1.0
    if np.issubdtype(values.dtype, np.integer):
        lo, hi = float(values.min()), float(values.max())
        if lo == hi:
            info = np.iinfo(values.dtype)
            return float(info.min), float(info.max)
        return lo, hi
    lo, hi = math.inf, -math.inf
    rows = max(1, _DISPLAY_BAND // max(1, values[:1].size))
    for r in range(0, values.shape[0], rows):
        band = values[r:r + rows]
        finite = band[np.isfinite(band)]
        if finite.size:
            lo, hi = min(lo, float(finite.min())), max(hi, float(finite.max()))
    if lo > hi:
        return 0.0, 1.0
    if lo == hi:
        return min(lo, 0.0), max(hi, 1.0)
    return lo, hi


def _check_file(p: Path) -> str:
    """Reject what cannot be an image before handing it to a decoder; return the lower-case suffix."""
    suffix = p.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ImageReadError(p, f"unsupported file type {p.suffix or '(none)'!r}; expected one of "
                             + ", ".join(IMAGE_SUFFIXES))
    try:
        size = p.stat().st_size
    except FileNotFoundError:
        raise ImageReadError(p, "file not found") from None
    except OSError as exc:
        raise ImageReadError(p, f"cannot access the file ({exc.strerror or exc})") from exc
    if p.is_dir():
        raise ImageReadError(p, "is a folder, not a file")
    if size == 0:
        raise ImageReadError(p, "file is empty (0 bytes)")
    return suffix


def _read_bytes(p: Path) -> bytes:
    """Read the whole file, turning OS errors into an ImageReadError."""
    try:
        return p.read_bytes()
    except OSError as exc:
        raise ImageReadError(p, f"cannot read the file ({exc.strerror or exc})") from exc


@contextlib.contextmanager
def _quiet_cv2() -> Iterator[None]:
    """Silence OpenCV's own log lines while decoding: failures become our error instead."""
    import cv2

    logging_mod = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging_mod is None:  # pragma: no cover - very old OpenCV
        yield
        return
    previous = logging_mod.getLogLevel()
    logging_mod.setLogLevel(logging_mod.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        logging_mod.setLogLevel(previous)


def _read_cv2(p: Path) -> np.ndarray:
    """Decode png/jpg/bmp from memory (works for any path encoding) and return (1, H, W[, 3])."""
    import cv2

    data = np.frombuffer(_read_bytes(p), np.uint8)
    try:
        with _quiet_cv2():
            image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise ImageReadError(p, f"not a valid {p.suffix.lower()[1:]} image ({exc})") from exc
    if image is None or image.size == 0:
        raise ImageReadError(p, f"not a valid {p.suffix.lower()[1:]} image, or the file is truncated")
    if image.ndim == 3:
        channels = image.shape[2]
        if channels == 1:
            image = image[:, :, 0]
        elif channels == 2:  # grey + alpha
            image = image[:, :, 0]
        else:  # BGR or BGRA -> RGB, alpha dropped
            image = image[:, :, 2::-1]
    return np.ascontiguousarray(image)[np.newaxis]


class _TiffLogTrap(logging.Handler):
    """Collects tifffile's error log records: it logs (not raises) for pages lost to truncation."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _tiff_errors_raise(p: Path) -> Iterator[None]:
    """Turn tifffile's logged errors (e.g. a missing page) into an ImageReadError."""
    logger = logging.getLogger("tifffile")
    trap = _TiffLogTrap()
    logger.addHandler(trap)
    try:
        yield
    finally:
        logger.removeHandler(trap)
    if trap.messages:
        raise ImageReadError(p, f"corrupt or truncated TIFF ({trap.messages[0]})")


def _read_tiff(p: Path, notes: list[str]) -> np.ndarray:
    """Read a TIFF's image series and bring it to (frames, H, W[, 3])."""
    import tifffile

    try:
        with _tiff_errors_raise(p):
            with tifffile.TiffFile(p) as tif:
                series = _stack_series(tif, notes)
                if len(series) == 1:
                    axes, data = series[0].axes, series[0].asarray()
                else:
                    axes, data = "Q" + series[0].axes, np.stack([s.asarray() for s in series])
    except ImageReadError:
        raise
    except TiffPagesError as exc:
        raise ImageReadError(p, str(exc)) from exc
    except Exception as exc:  # tifffile and its codecs raise many types for a bad file
        raise ImageReadError(p, f"not a readable TIFF, or the file is truncated ({exc})") from exc
    shape, samples_axis = _tiff_layout(tuple(data.shape), axes)
    _check_shape(p, shape)
    if samples_axis is not None:
        data = np.moveaxis(data, samples_axis, -1)
        samples = data.shape[-1]
        data = data[..., 0] if samples < 3 else data[..., :3]
    return np.ascontiguousarray(data.reshape(shape))


class TiffPagesError(ValueError):
    """Full-resolution pages of one TIFF that cannot be frames of one stack (sizes differ)."""


def _stack_series(tif: "tifffile.TiffFile", notes: list[str] | None = None) -> list["tifffile.TiffPageSeries"]:
    """The first series plus every later one of the same shape, dtype and axes.

    A stack written one page at a time (e.g. ``TiffWriter.write`` per frame) is stored as one
    series per page; those are frames of one stack. Reduced-resolution pages (pyramid levels,
    thumbnails) are left out and said so in ``notes``; a full-resolution page of another size or
    type is refused, naming the page, since dropping it would lose data without a word.
    """
    if not tif.series:
        raise ValueError("the file holds no image series")
    first = tif.series[0]
    key = (tuple(first.shape), first.dtype, first.axes)
    reduced = sum(len(level.pages) for level in first.levels[1:])
    kept = [first]
    for s in tif.series[1:]:
        if (tuple(s.shape), s.dtype, s.axes) == key:
            kept.append(s)
        elif s.pages and all(getattr(page, "is_reduced", False) for page in s.pages if page is not None):
            reduced += len(s.pages)
        else:
            raise TiffPagesError(
                f"page {_page_number(s)} is {_describe(s)} but page {_page_number(first)} is "
                f"{_describe(first)}; mia reads a TIFF whose full-resolution pages share one size "
                "and type (save the pages as separate files)"
            )
    if reduced and notes is not None:
        notes.append(f"{reduced} reduced-resolution page(s) (pyramid levels or thumbnails) skipped; "
                     "the full-resolution image is used")
    return kept


def _page_number(series: "tifffile.TiffPageSeries") -> int | str:
    """Index of a series' first page in the file (0-based, as tifffile and ImageJ count)."""
    page = series.pages[0] if series.pages else None
    return getattr(page, "index", "?")


def _describe(series: "tifffile.TiffPageSeries") -> str:
    """``W x H pixels, dtype`` of a series' frames."""
    shape = dict(zip(series.axes, series.shape))
    return f"{shape.get('X', '?')}x{shape.get('Y', '?')} pixels, {series.dtype}"


_TOLD: set[tuple[str, str]] = set()


def _tell(p: Path, found: list[str], notes: list[str] | None) -> None:
    """Hand notes to the caller, and log each once per file and process (the CLI shows warnings)."""
    if notes is not None:
        notes.extend(found)
    for note in found:
        if (str(p), note) not in _TOLD:
            _TOLD.add((str(p), note))
            logging.getLogger("mia").warning("%s: %s", p.name, note)


def _tiff_layout(shape: tuple[int, ...], axes: str) -> tuple[tuple[int, ...], int | None]:
    """Target shape for a tifffile series, and where its samples (channel) axis is, if any.

    Every axis other than Y, X and S (samples) is folded into frames; 1-2 samples read as grey
    (grey + alpha keeps grey), 3 or more as RGB (alpha and extra samples dropped).
    """
    if len(axes) != len(shape):  # pragma: no cover - tifffile keeps these in step
        axes = "Q" * (len(shape) - 2) + "YX"
    samples_axis = axes.index("S") if "S" in axes else None
    samples = shape[samples_axis] if samples_axis is not None else 1
    rest = [n for i, n in enumerate(shape) if i != samples_axis]
    if len(rest) < 2:
        return tuple(rest), samples_axis  # rejected by _check_shape
    height, width = rest[-2], rest[-1]
    frames = int(np.prod(rest[:-2], dtype=np.int64)) if len(rest) > 2 else 1
    out: tuple[int, ...] = (frames, height, width)
    if samples >= 3:
        out = out + (3,)
    return out, samples_axis


def _check_shape(p: Path, shape: tuple[int, ...]) -> None:
    """An image needs at least one frame of at least one pixel."""
    if len(shape) < 3 or 0 in shape:
        raise ImageReadError(p, f"no image data (shape {shape})")


def _pil_header_shape(p: Path) -> tuple[int, ...] | None:
    """Shape from the header via Pillow (lazy, decodes no pixels); None when unsure."""
    try:
        from PIL import Image, UnidentifiedImageError
    except ImportError:  # pragma: no cover - Pillow comes with scikit-image
        return None
    try:
        with Image.open(p) as im:
            mode, (width, height) = im.mode, im.size
    except UnidentifiedImageError as exc:
        raise ImageReadError(p, f"not a valid {p.suffix.lower()[1:]} image") from exc
    except Exception:  # noqa: BLE001 - let the full decoder produce the error message
        return None
    if width <= 0 or height <= 0:
        return None
    if mode in _GREY_MODES:
        return (1, height, width)
    if mode in _COLOUR_MODES:
        return (1, height, width, 3)
    return None
