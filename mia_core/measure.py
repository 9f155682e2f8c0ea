"""Per-contour pixel masks and shape measures shared by the measurement plugins and the exporter."""

from __future__ import annotations

import math

import cv2
import numpy as np

from mia_core import raster
from mia_core.labels import Contour


def local_mask(contour: Contour) -> tuple[np.ndarray, tuple[int, int]]:
    """The contour's pixels (holes excluded) in its bounding box, and the box origin (x0, y0)."""
    x0, y0, x1, y1 = contour.bbox
    return raster.contour_mask(contour, (y1 - y0, x1 - x0), (-x0, -y0)), (x0, y0)


def perimeter(contour: Contour) -> float:
    """Length of the closed boundary polygons through pixel centres (outer plus holes), cv2.arcLength."""
    total = cv2.arcLength(contour.outer.reshape(-1, 1, 2), True)
    return float(total + sum(cv2.arcLength(h.reshape(-1, 1, 2), True) for h in contour.holes))


def skeleton_mask(mask: np.ndarray, kernel: int = 11) -> np.ndarray:
    """Lee skeleton of the mask smoothed by a median blur of ``kernel`` (made odd), same shape as mask."""
    from skimage.morphology import skeletonize

    k = max(1, int(kernel) | 1)
    pad = k // 2 + 2
    m = np.pad(mask.astype(np.uint8), pad)
    if k > 1:
        m = cv2.medianBlur(m * 255, k) > 127
    return skeletonize(m.astype(bool), method="lee").astype(bool)[pad:-pad, pad:-pad]


def skeleton_length(mask: np.ndarray, kernel: int = 11) -> float:
    """Length of the median-smoothed mask's skeleton: 1 per straight and sqrt(2) per diagonal step."""
    s = skeleton_mask(mask, kernel)
    if not s.any():
        return 0.0
    right = s[:, :-1] & s[:, 1:]
    down = s[:-1, :] & s[1:, :]
    # A diagonal step counts only where no straight path already joins the two pixels.
    d1 = s[:-1, :-1] & s[1:, 1:] & ~s[:-1, 1:] & ~s[1:, :-1]
    d2 = s[:-1, 1:] & s[1:, :-1] & ~s[:-1, :-1] & ~s[1:, 1:]
    return float(right.sum() + down.sum() + math.sqrt(2) * (d1.sum() + d2.sum()))


def centroid(mask: np.ndarray, origin: tuple[int, int]) -> tuple[float, float]:
    """Mean x, y of the mask's pixels in image coordinates."""
    ys, xs = np.nonzero(mask)
    return float(xs.mean() + origin[0]), float(ys.mean() + origin[1])
