"""The label model: contours per class with holes, and the immutable ``LabelSet`` that edits them.

Every edit works in raster space on the affected region only: the contours whose bounding boxes
meet the stroke are drawn into a small class raster, the stroke is applied, and the region is traced
again. A pixel belongs to at most one contour; same-class regions that touch merge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable, Iterable, Sequence

import cv2
import numpy as np

from mia_core import raster
from mia_core.raster import EMPTY

Points = Sequence[Sequence[float]] | np.ndarray

#: Largest class id: class maps are int16 (-1 = unlabelled), so every class must fit there.
MAX_CLASS_ID = int(np.iinfo(np.int16).max)
#: Largest |x| or |y| a contour point may have: far beyond any image, far from int32 overflow.
MAX_COORDINATE = 2**24
_INT32_MIN, _INT32_MAX = int(np.iinfo(np.int32).min), int(np.iinfo(np.int32).max)


@dataclass(frozen=True, eq=False)
class Contour:
    """One labelled region: class, optional object (track) number, outer boundary and holes."""

    class_id: int
    outer: np.ndarray
    holes: tuple[np.ndarray, ...] = ()
    object_id: int = 0
    _cache: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        outer = _int32_points(self.outer)
        if len(outer) == 0:
            raise ValueError("a contour needs at least one point")
        object.__setattr__(self, "outer", outer)
        object.__setattr__(self, "holes", tuple(_int32_points(h) for h in self.holes))
        class_id, object_id = int(self.class_id), int(self.object_id)
        if not 0 <= class_id <= MAX_CLASS_ID:
            raise ValueError(f"class ids go from 0 to {MAX_CLASS_ID} (class maps are int16), got {class_id}")
        if not _INT32_MIN <= object_id <= _INT32_MAX:
            raise ValueError(f"object numbers must fit int32, got {object_id}")
        object.__setattr__(self, "class_id", class_id)
        object.__setattr__(self, "object_id", object_id)

    @property
    def area(self) -> float:
        """Polygon area of the outer boundary minus the holes, in square pixels."""
        if "area" not in self._cache:
            a = cv2.contourArea(self.outer.reshape(-1, 1, 2))
            a -= sum(cv2.contourArea(h.reshape(-1, 1, 2)) for h in self.holes)
            self._cache["area"] = float(a)
        return self._cache["area"]

    @property
    def pixel_count(self) -> int:
        """Number of pixels the contour covers (what a mask of it would count)."""
        x0, y0, x1, y1 = self.bbox
        return int(raster.contour_mask(self, (y1 - y0, x1 - x0), (-x0, -y0)).sum())

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        """x0, y0, x1, y1 of the covered pixels (x1, y1 exclusive)."""
        if "bbox" not in self._cache:
            lo = self.outer.min(axis=0)
            hi = self.outer.max(axis=0) + 1
            self._cache["bbox"] = (int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1]))
        return self._cache["bbox"]

    def contains(self, x: float, y: float) -> bool:
        """True when pixel (x, y) belongs to the contour (boundary included, holes excluded)."""
        pt = (float(round(x)), float(round(y)))
        if cv2.pointPolygonTest(self.outer.reshape(-1, 1, 2), pt, False) < 0:
            return False
        return all(cv2.pointPolygonTest(h.reshape(-1, 1, 2), pt, False) <= 0 for h in self.holes)

    def replace(self, **changes: object) -> "Contour":
        """A copy with some fields changed (arrays are shared, never mutated)."""
        fields = dict(class_id=self.class_id, outer=self.outer, holes=self.holes, object_id=self.object_id)
        fields.update(changes)
        return Contour(**fields)  # type: ignore[arg-type]

    def same_as(self, other: "Contour") -> bool:
        """True when both contours describe the same labelled region."""
        return (
            self.class_id == other.class_id
            and self.object_id == other.object_id
            and np.array_equal(self.outer, other.outer)
            and len(self.holes) == len(other.holes)
            and all(np.array_equal(a, b) for a, b in zip(self.holes, other.holes))
        )


def _int32_points(points: Points) -> np.ndarray:
    """(N, 2) int32 points; other dtypes are checked first so nothing wraps or truncates silently."""
    arr = np.asarray(points)
    if arr.dtype == np.int32 and arr.size:
        # Checked for int32 too (one C call: edits make many contours): near the int32 limit the
        # bounding box overflows and the contour vanishes.
        arr = np.ascontiguousarray(arr).reshape(-1, 2)
        lo, hi = cv2.minMaxLoc(arr)[:2]
    elif arr.size:
        if not np.issubdtype(arr.dtype, np.integer):
            if not np.all(np.isfinite(arr)) or not np.array_equal(arr, np.round(arr)):
                raise ValueError("contour points must be whole, finite numbers")
        lo, hi = arr.min(), arr.max()
    else:
        lo = hi = 0
    if lo < -MAX_COORDINATE or hi > MAX_COORDINATE:
        raise ValueError(f"contour points must lie within +/-{MAX_COORDINATE} pixels")
    return np.ascontiguousarray(arr, dtype=np.int32).reshape(-1, 2)


Box = tuple[int, int, int, int]


class LabelSet:
    """An immutable set of contours of one image (or frame); every edit returns a new set."""

    def __init__(self, contours: Iterable[Contour] = (), shape: tuple[int, int] | None = None) -> None:
        self.contours: tuple[Contour, ...] = tuple(contours)
        self.shape: tuple[int, int] | None = (int(shape[0]), int(shape[1])) if shape is not None else None

    def __len__(self) -> int:
        return len(self.contours)

    def __iter__(self):
        return iter(self.contours)

    def __repr__(self) -> str:
        return f"LabelSet({len(self.contours)} contours, shape={self.shape})"

    @property
    def is_empty(self) -> bool:
        """True when there is no contour (the label file is then removed)."""
        return not self.contours

    def same_as(self, other: "LabelSet") -> bool:
        """True when both sets hold the same contours in the same order."""
        return len(self) == len(other) and all(
            a is b or a.same_as(b) for a, b in zip(self.contours, other.contours)
        )

    def with_shape(self, shape: tuple[int, int] | None) -> "LabelSet":
        """The same contours, attached to an image of ``shape``."""
        return LabelSet(self.contours, shape)

    def class_ids(self) -> list[int]:
        """Sorted class ids present."""
        return sorted({c.class_id for c in self.contours})

    @cached_property
    def _bboxes(self) -> np.ndarray:
        if not self.contours:
            return np.zeros((0, 4), dtype=np.int64)
        return np.array([c.bbox for c in self.contours], dtype=np.int64)

    # --- queries -------------------------------------------------------------------------------
    def contour_at(self, x: float, y: float) -> int | None:
        """Index of the contour under pixel (x, y), the last drawn first; None when there is none."""
        b = self._bboxes
        xi, yi = round(x), round(y)
        hits = np.nonzero((b[:, 0] <= xi) & (xi < b[:, 2]) & (b[:, 1] <= yi) & (yi < b[:, 3]))[0]
        for i in hits[::-1]:
            if self.contours[i].contains(x, y):
                return int(i)
        return None

    def to_class_map(self, shape: tuple[int, int] | None = None) -> np.ndarray:
        """int16 map of class ids, -1 where nothing is labelled."""
        out = np.full(self._require_shape(shape), EMPTY, dtype=np.int16)
        for c in self.contours:
            raster.draw_contour(out, c, c.class_id)
        return out

    def to_instance_map(self, shape: tuple[int, int] | None = None) -> np.ndarray:
        """int32 map with contour index + 1 on each contour's pixels, 0 elsewhere."""
        out = np.zeros(self._require_shape(shape), dtype=np.int32)
        for i, c in enumerate(self.contours):
            raster.draw_contour(out, c, i + 1, empty=0)
        return out

    def _require_shape(self, shape: tuple[int, int] | None) -> tuple[int, int]:
        shape = shape or self.shape
        if shape is None:
            raise ValueError("the label set has no image shape; pass one")
        return (int(shape[0]), int(shape[1]))

    # --- edits ---------------------------------------------------------------------------------
    def add_polygon(self, points: Points, class_id: int, inner_contours: bool = True) -> "LabelSet":
        """Add a filled polygon of ``class_id``: merges with that class, taken from every other."""
        pts = _polygon(points)
        return self._edit(_points_box(pts, 1), lambda r, off: _paint(r, raster.fill_polygon_mask(pts, r.shape, off), class_id),
                          fill_all=not inner_contours)

    def subtract_polygon(self, points: Points, inner_contours: bool = True) -> "LabelSet":
        """Remove a filled polygon from every contour it covers (without inner contours it cuts no hole)."""
        pts = _polygon(points)
        return self._edit(_points_box(pts, 1), lambda r, off: _paint(r, raster.fill_polygon_mask(pts, r.shape, off), EMPTY),
                          fill_all=not inner_contours)

    def slice(self, polyline: Points, width: int = 2, inner_contours: bool = True) -> "LabelSet":
        """Cut every contour along an open polyline ``width`` pixels wide (splits a contour in two)."""
        pts = raster.as_points(polyline)
        if len(pts) < 1:
            return self
        pad = int(width) // 2 + 2
        return self._edit(_points_box(pts, pad), lambda r, off: _paint(r, raster.line_mask(pts, width, r.shape, off), EMPTY),
                          fill_all=not inner_contours)

    def brush(
        self, path: Points, radius: float, class_id: int, erase: bool = False, inner_contours: bool = True
    ) -> "LabelSet":
        """Paint (or erase) a round brush of ``radius`` along a path."""
        pts = raster.as_points(path)
        if len(pts) < 1:
            return self
        value = EMPTY if erase else class_id
        pad = int(np.ceil(radius)) + 2
        return self._edit(
            _points_box(pts, pad),
            lambda r, off: _paint(r, raster.brush_mask(pts, radius, r.shape, off), value),
            fill_all=not inner_contours,
        )

    def replace_class_in_box(
        self, box: tuple[int, int, int, int], mask: np.ndarray, class_id: int, inner_contours: bool = True
    ) -> "LabelSet":
        """Make ``mask`` ((y1-y0, x1-x0) bool) the class's pixels inside ``box``; outside stays as it is.

        Mask pixels are taken from other classes (like drawing); this is how an assistant's result
        replaces the class in the field of view.
        """
        x0, y0, x1, y1 = (int(v) for v in box)
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (y1 - y0, x1 - x0):
            raise ValueError(f"mask shape {mask.shape} does not match box {box}")

        def apply(r: np.ndarray, off: tuple[int, int]) -> None:
            view = r[y0 + off[1] : y1 + off[1], x0 + off[0] : x1 + off[0]]
            view[view == class_id] = EMPTY
            view[mask] = class_id

        return self._edit((x0, y0, x1, y1), apply, fill_all=not inner_contours)

    def assign_class(self, x: float, y: float, class_id: int) -> "LabelSet":
        """Give the contour under (x, y) the class ``class_id`` (it merges with touching ones)."""
        i = self.contour_at(x, y)
        if i is None or self.contours[i].class_id == class_id:
            return self
        target = self.contours[i]
        x0, y0, x1, y1 = target.bbox

        def apply(r: np.ndarray, off: tuple[int, int]) -> None:
            _paint(r, raster.contour_mask(target, r.shape, off), class_id)

        return self._edit((x0 - 1, y0 - 1, x1 + 1, y1 + 1), apply)

    def delete_at(self, x: float, y: float, inner_contours: bool = True) -> "LabelSet":
        """Remove the contour under (x, y); without inner contours, one around it fills its place."""
        i = self.contour_at(x, y)
        if i is None:
            return self
        out = LabelSet(self.contours[:i] + self.contours[i + 1 :], self.shape)
        if inner_contours:
            return out
        x0, y0, x1, y1 = self.contours[i].bbox
        return out._edit((x0 - 1, y0 - 1, x1 + 1, y1 + 1), lambda r, off: None, fill_all=True)

    def fill_holes(self) -> "LabelSet":
        """Fill every hole that is not occupied by another contour (inner contours off)."""
        if not any(c.holes for c in self.contours):
            return self
        out = self
        for c in self.contours:
            if c.holes:
                x0, y0, x1, y1 = c.bbox
                out = out._edit((x0, y0, x1, y1), lambda r, off: None, fill_class=c.class_id)
        return out

    def drop_small(self, min_area: float) -> "LabelSet":
        """Remove contours whose area is below ``min_area`` square pixels."""
        keep = [c for c in self.contours if c.area >= min_area]
        return self if len(keep) == len(self.contours) else LabelSet(keep, self.shape)

    # --- the shared raster edit ----------------------------------------------------------------
    def _edit(
        self,
        box: Box,
        apply: Callable[[np.ndarray, tuple[int, int]], None],
        fill_class: int | None = None,
        fill_all: bool = False,
    ) -> "LabelSet":
        """Draw the contours meeting ``box`` into a local raster, apply a stroke, trace again.

        ``fill_class`` fills the holes of that class afterwards, ``fill_all`` those of every class
        (inner contours off): only empty pixels are filled, never another contour's.
        """
        box = self._clip(box)
        if box[0] >= box[2] or box[1] >= box[3]:
            return self
        b = self._bboxes
        hit = (b[:, 0] < box[2]) & (box[0] < b[:, 2]) & (b[:, 1] < box[3]) & (box[1] < b[:, 3])
        idx = np.nonzero(hit)[0]
        if len(idx):
            sub = b[idx]
            box = (
                min(box[0], int(sub[:, 0].min())),
                min(box[1], int(sub[:, 1].min())),
                max(box[2], int(sub[:, 2].max())),
                max(box[3], int(sub[:, 3].max())),
            )
            box = self._clip(box)  # a contour reaching outside the image never widens the raster
        x0, y0, x1, y1 = box
        # One pixel of margin so that regions touching the box edge trace correctly.
        x0, y0, x1, y1 = x0 - 1, y0 - 1, x1 + 1, y1 + 1
        off = (-x0, -y0)
        local = np.full((y1 - y0, x1 - x0), EMPTY, dtype=np.int32)
        touched = [self.contours[i] for i in idx]
        objects = None
        if any(c.object_id for c in touched):
            objects = np.zeros(local.shape, dtype=np.int32)
        for c in touched:
            raster.draw_contour(local, c, c.class_id, off)
            if objects is not None:
                raster.draw_contour(objects, c, c.object_id, off, empty=0)
        before = local.copy()
        apply(local, off)
        if self.shape is not None:
            _clear_outside(local, (x0, y0), self.shape)
        for value in (np.unique(local) if fill_all else [fill_class] if fill_class is not None else []):
            if value == EMPTY:
                continue
            region = raster.fill_mask_holes(local == value)
            local[region & (local == EMPTY)] = value
        if np.array_equal(before, local):
            return self
        new: list[Contour] = []
        for value in np.unique(local):
            if value == EMPTY:
                continue
            for c in raster.contours_from_mask(local == value, int(value), offset=(x0, y0)):
                if objects is not None:
                    c = c.replace(object_id=_dominant_object(c, objects, (x0, y0)))
                new.append(c)
        keep_mask = np.ones(len(self.contours), dtype=bool)
        keep_mask[idx] = False
        kept = [c for c, k in zip(self.contours, keep_mask) if k]
        return LabelSet(kept + new, self.shape)

    def _clip(self, box: Box) -> Box:
        x0, y0, x1, y1 = (int(v) for v in box)
        x0, y0 = max(x0, 0), max(y0, 0)
        if self.shape is not None:
            x1, y1 = min(x1, self.shape[1]), min(y1, self.shape[0])
        return x0, y0, x1, y1


def _polygon(points: Points) -> np.ndarray:
    pts = raster.as_points(points)
    if len(pts) < 3:
        raise ValueError(f"a polygon needs at least 3 points, got {len(pts)}")
    return pts


def _points_box(pts: np.ndarray, pad: int) -> Box:
    lo = pts.min(axis=0) - pad
    hi = pts.max(axis=0) + pad + 1
    return int(lo[0]), int(lo[1]), int(hi[0]), int(hi[1])


def _paint(local: np.ndarray, mask: np.ndarray, value: int) -> None:
    local[mask] = value


def _clear_outside(local: np.ndarray, origin: tuple[int, int], shape: tuple[int, int]) -> None:
    """Nothing may be labelled outside the image."""
    x0, y0 = origin
    h, w = local.shape
    if x0 < 0:
        local[:, : -x0] = EMPTY
    if y0 < 0:
        local[: -y0, :] = EMPTY
    if x0 + w > shape[1]:
        local[:, shape[1] - x0 :] = EMPTY
    if y0 + h > shape[0]:
        local[shape[0] - y0 :, :] = EMPTY


def _dominant_object(c: Contour, objects: np.ndarray, origin: tuple[int, int]) -> int:
    """The object number most of a new contour's pixels had before the edit (0 when none)."""
    mask = raster.contour_mask(c, objects.shape, (-origin[0], -origin[1]))
    values = objects[mask]
    values = values[values > 0]
    if values.size == 0:
        return 0
    ids, counts = np.unique(values, return_counts=True)
    return int(ids[np.argmax(counts)])


def all_background(shape: tuple[int, int]) -> LabelSet:
    """Class 0 over a whole image or frame: an image known to hold nothing trains as a negative."""
    height, width = int(shape[0]), int(shape[1])
    if height < 1 or width < 1:
        raise ValueError(f"an image needs at least one pixel, got shape {shape}")
    outer = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], dtype=np.int32)
    return LabelSet([Contour(0, outer)], shape=(height, width))


def is_all_background(labels: LabelSet) -> bool:
    """True when the labels hold class 0 only (a negative example)."""
    return not labels.is_empty and labels.class_ids() == [0]
