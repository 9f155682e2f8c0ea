"""U-Net "separate contours" weights: make the network learn the thin background gaps between objects.

w(x) = w0 * exp(-(d1(x) + d2(x))^2 / (2 sigma^2)), with d1 and d2 the distances from pixel x to
the nearest and second-nearest object (Ronneberger et al. 2015, eq. 2).  It is added to the class
weight of background pixels only; object pixels and images with fewer than two objects get 0.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

#: Distances beyond sigma * this give weights below w0 * exp(-CUTOFF_SIGMAS**2 / 2) ~ 1e-14 w0.
CUTOFF_SIGMAS = 8.0


def separation_weights(instances: np.ndarray, w0: float = 10.0, sigma: float = 5.0) -> np.ndarray:
    """The border term of every pixel of an instance map (0 = no object, k > 0 = object k)."""
    if instances.ndim != 2:
        raise ValueError(f"instance map must be 2-D, got shape {instances.shape}")
    h, w = instances.shape
    ids = np.unique(instances)
    ids = ids[ids > 0]
    out = np.zeros((h, w), np.float32)
    if len(ids) < 2 or w0 == 0:
        return out
    cutoff = CUTOFF_SIGMAS * sigma
    margin = int(math.ceil(cutoff)) + 1
    d1 = np.full((h, w), np.inf, np.float32)
    d2 = np.full((h, w), np.inf, np.float32)
    for obj in ids:
        ys, xs = np.nonzero(instances == obj)
        y0, y1 = max(ys.min() - margin, 0), min(ys.max() + margin + 1, h)
        x0, x1 = max(xs.min() - margin, 0), min(xs.max() + margin + 1, w)
        # Distances to this object inside its bounding box plus the cut-off margin; farther pixels
        # are beyond the cut-off and keep d = inf, so only the window needs computing.
        not_obj = (instances[y0:y1, x0:x1] != obj).astype(np.uint8)
        d = cv2.distanceTransform(not_obj, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        a1 = d1[y0:y1, x0:x1]
        a2 = d2[y0:y1, x0:x1]
        closer = d < a1
        a2[...] = np.where(closer, a1, np.minimum(a2, d))
        a1[...] = np.where(closer, d, a1)
    background = instances == 0
    total = d1 + d2
    finite = background & np.isfinite(total)
    out[finite] = w0 * np.exp(-(total[finite] ** 2) / (2.0 * sigma**2))
    return out
