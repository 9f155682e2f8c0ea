"""Raster <-> contour conversions shared by the label model, tools, predictions and imports.

Contours follow OpenCV's convention: points are the centres of the boundary pixels of a region, so
filling the outer polygon and clearing each hole's interior gives back exactly the region's pixels.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import cv2
import numpy as np

if TYPE_CHECKING:  # pragma: no cover - typing only
    from mia_core.labels import Contour, LabelSet

EMPTY = -1  # class-map value of an unlabelled pixel


def as_points(points: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """Round a sequence of x, y points to an (N, 2) int32 array."""
    arr = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if not np.all(np.isfinite(arr)):
        raise ValueError("points must be finite numbers")
    return np.round(arr).astype(np.int32)


def contours_from_mask(
    mask: np.ndarray,
    class_id: int,
    offset: tuple[int, int] = (0, 0),
    inner_contours: bool = True,
    object_id: int = 0,
) -> list["Contour"]:
    """Trace the connected regions of a boolean mask into contours with holes (8-connected)."""
    from mia_core.labels import Contour

    m = np.ascontiguousarray(mask, dtype=np.uint8)
    if not m.any():
        return []
    mode = cv2.RETR_CCOMP if inner_contours else cv2.RETR_EXTERNAL
    found, hierarchy = cv2.findContours(m, mode, cv2.CHAIN_APPROX_SIMPLE, offset=tuple(offset))
    if hierarchy is None:
        return []
    hier = hierarchy[0]
    holes: dict[int, list[np.ndarray]] = {}
    for i, h in enumerate(hier):
        parent = h[3]
        if parent >= 0:
            holes.setdefault(int(parent), []).append(found[i].reshape(-1, 2).astype(np.int32))
    out = []
    for i, h in enumerate(hier):
        if h[3] < 0:
            out.append(
                Contour(
                    class_id=int(class_id),
                    outer=found[i].reshape(-1, 2).astype(np.int32),
                    holes=tuple(holes.get(i, ())),
                    object_id=int(object_id),
                )
            )
    return out


def draw_contour(
    raster: np.ndarray, contour: "Contour", value: int, offset: tuple[int, int] = (0, 0), empty: int = EMPTY
) -> None:
    """Paint one contour's pixels (outer minus holes) into ``raster`` in place; others stay."""
    x0, y0, x1, y1 = contour.bbox
    x0, x1 = x0 + offset[0], x1 + offset[0]
    y0, y1 = y0 + offset[1], y1 + offset[1]
    cx0, cy0 = max(x0, 0), max(y0, 0)
    cx1, cy1 = min(x1, raster.shape[1]), min(y1, raster.shape[0])
    if cx0 >= cx1 or cy0 >= cy1:
        return
    # The scratch raster covers only the part of the contour inside ``raster``: a contour reaching
    # far outside the image costs no more memory than the image.
    local = _own_pixels(contour, (cy1 - cy0, cx1 - cx0), (offset[0] - cx0, offset[1] - cy0))
    raster[cy0:cy1, cx0:cx1][local] = value


def _own_pixels(contour: "Contour", shape: tuple[int, int], offset: tuple[int, int]) -> np.ndarray:
    """Boolean mask of a contour's pixels on a blank raster (islands in holes are other contours)."""
    local = np.zeros(shape, dtype=np.uint8)
    shift = np.array(offset, dtype=np.int64)
    outer = _shifted(contour.outer, shift)
    cv2.drawContours(local, [outer], 0, 1, thickness=cv2.FILLED)
    if contour.holes:
        holes = [_shifted(h, shift) for h in contour.holes]
        # The hole polygon runs through the region's own boundary pixels: clear its inside, then
        # put those boundary pixels back.
        cv2.drawContours(local, holes, -1, 0, thickness=cv2.FILLED)
        cv2.drawContours(local, holes, -1, 1, thickness=1)
    return local.astype(bool)


def _shifted(points: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Points moved into a scratch raster's frame, as OpenCV's int32, without wrapping."""
    moved = points.astype(np.int64) + shift
    limit = np.iinfo(np.int32).max // 2  # OpenCV's fixed-point drawing needs head room
    return np.clip(moved, -limit, limit).astype(np.int32).reshape(-1, 1, 2)


def contour_mask(contour: "Contour", shape: tuple[int, int], offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Boolean mask of one contour's pixels in a raster of ``shape`` whose origin is ``-offset``."""
    out = np.zeros(shape, dtype=bool)
    draw_contour(out, contour, True, offset)
    return out


def fill_polygon_mask(points: np.ndarray, shape: tuple[int, int], offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Boolean mask of a closed polygon, boundary pixels included."""
    raster = np.zeros(shape, dtype=np.uint8)
    pts = (as_points(points) + np.array(offset, dtype=np.int32)).reshape(-1, 1, 2)
    cv2.fillPoly(raster, [pts], 1)
    cv2.polylines(raster, [pts], True, 1, thickness=1)
    return raster.astype(bool)


def line_mask(
    points: np.ndarray, width: int, shape: tuple[int, int], offset: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """Boolean mask of an open polyline ``width`` pixels wide; 4-connected so it always separates."""
    raster = np.zeros(shape, dtype=np.uint8)
    pts = as_points(points) + np.array(offset, dtype=np.int32)
    width = max(int(width), 1)
    for a, b in zip(pts[:-1], pts[1:]):
        cv2.line(raster, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), 1, thickness=1, lineType=cv2.LINE_4)
    if len(pts) == 1:
        raster[pts[0][1], pts[0][0]] = 1 if 0 <= pts[0][1] < shape[0] and 0 <= pts[0][0] < shape[1] else 0
    if width > 1:
        # Widen the 4-connected centre line by exactly ``width`` pixels across.
        raster = cv2.dilate(raster, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (width, width)))
    return raster.astype(bool)


def brush_mask(
    points: np.ndarray, radius: float, shape: tuple[int, int], offset: tuple[int, int] = (0, 0)
) -> np.ndarray:
    """Boolean mask swept by a round brush of ``radius`` pixels along a path."""
    raster = np.zeros(shape, dtype=np.uint8)
    pts = as_points(points) + np.array(offset, dtype=np.int32)
    r = max(int(round(radius)), 0)
    for p in pts:
        cv2.circle(raster, (int(p[0]), int(p[1])), r, 1, thickness=-1)
    if r > 0:
        for a, b in zip(pts[:-1], pts[1:]):
            # OpenCV draws a line of thickness 2r exactly 2r + 1 pixels wide, like the circles.
            cv2.line(raster, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), 1, thickness=2 * r)
    return raster.astype(bool)


def fill_mask_holes(mask: np.ndarray) -> np.ndarray:
    """The mask with every enclosed hole filled (regions traced without inner contours)."""
    m = np.ascontiguousarray(mask, dtype=np.uint8)
    found, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = np.zeros_like(m)
    cv2.drawContours(out, found, -1, 1, thickness=cv2.FILLED)
    return out.astype(bool)


def labels_from_class_map(
    class_map: np.ndarray, ignore: Iterable[int] = (EMPTY,), inner_contours: bool = True
) -> "LabelSet":
    """One contour per connected region of each class value in a class map."""
    from mia_core.labels import LabelSet

    cm = np.asarray(class_map)
    if cm.ndim != 2:
        raise ValueError(f"a class map must be 2-D, got shape {cm.shape}")
    skip = set(int(v) for v in ignore)
    contours = []
    for value in np.unique(cm):
        if int(value) in skip:
            continue
        if value < 0:
            raise ValueError(f"class values must be >= 0, found {int(value)}")
        contours += contours_from_mask(cm == value, int(value), inner_contours=inner_contours)
    return LabelSet(contours, shape=cm.shape)


def labels_from_instance_map(
    instance_map: np.ndarray, class_of: Mapping[int, int] | int = 1, inner_contours: bool = True
) -> "LabelSet":
    """One contour per object of an instance map (0 = none); the object number is kept."""
    from mia_core.labels import LabelSet

    im = np.asarray(instance_map)
    if im.ndim != 2:
        raise ValueError(f"an instance map must be 2-D, got shape {im.shape}")
    if im.size and im.min() < 0:
        raise ValueError(f"object numbers must be >= 0, found {int(im.min())}")
    from scipy import ndimage

    contours = []
    # One small crop per object, found in a single pass over the map.
    for index, box in enumerate(ndimage.find_objects(im.astype(np.int64, copy=False))):
        if box is None:
            continue
        v = index + 1
        if isinstance(class_of, Mapping):
            if v not in class_of:
                raise ValueError(f"object {v} has no class in class_of")
            cls = int(class_of[v])
        else:
            cls = int(class_of)
        crop = im[box] == v
        offset = (int(box[1].start), int(box[0].start))
        contours += contours_from_mask(crop, cls, offset=offset, inner_contours=inner_contours, object_id=v)
    return LabelSet(contours, shape=im.shape)
