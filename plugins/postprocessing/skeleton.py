"""Skeleton overlay: the centre line of every contour, drawn over the canvas (labels unchanged)."""

from __future__ import annotations

from typing import Any

import numpy as np

from mia_core.hooks import hookimpl
from mia_core.labels import LabelSet
from mia_core.measure import local_mask, skeleton_mask


class SkeletonOverlay:
    """Median blur (``skeleton_kernel``, 1..41, default 11 as MIA), then scikit-image's skeleton."""

    name = "skeleton"
    label = "Skeleton"

    def apply(self, labels: LabelSet, **options: Any) -> LabelSet:
        """An overlay postprocessor leaves the labels as they are."""
        return labels

    def overlay(self, labels: LabelSet, **options: Any) -> list[np.ndarray]:
        """Per contour, the (N, 2) x, y image pixels of its skeleton (the same one the length measures)."""
        kernel = int(options.get("skeleton_kernel", 11))
        out = []
        for c in labels.contours:
            mask, (x0, y0) = local_mask(c)
            ys, xs = np.nonzero(skeleton_mask(mask, kernel))
            out.append(np.stack([xs + x0, ys + y0], axis=1).astype(np.int32))
        return out


@hookimpl
def mia_postprocessors() -> list[SkeletonOverlay]:
    return [SkeletonOverlay()]
