"""Touching objects of one mask split apart: distance-transform peaks as seeds of a watershed.

Core, not a plugin, because training calibrates the split distance on the user's labels with the
very function that ``separate`` applies to predictions.
"""

from __future__ import annotations

import numpy as np


def split_mask(mask: np.ndarray, min_distance: int) -> np.ndarray:
    """Watershed parts of a boolean mask numbered 1..n (0 = background and the separating lines)."""
    from scipy import ndimage
    from skimage.feature import peak_local_max
    from skimage.segmentation import watershed

    dist = ndimage.distance_transform_edt(mask)
    peaks = peak_local_max(dist, min_distance=max(1, min_distance), labels=mask.astype(int), exclude_border=False)
    if len(peaks) < 2:
        return mask.astype(np.int32)
    markers = np.zeros(mask.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1)
    # connectivity=2 makes the lines cut 8-connected paths too (contours are traced 8-connected).
    return watershed(-dist, markers, mask=mask, watershed_line=True, connectivity=2).astype(np.int32)
