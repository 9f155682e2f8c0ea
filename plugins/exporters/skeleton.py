"""Skeleton length and fatness (area / length) of every contour, for dendrites and fibres."""

from __future__ import annotations

from typing import Any

import numpy as np

from mia_core.hooks import hookimpl
from mia_core.measure import local_mask, skeleton_length


class SkeletonMeasures:
    """Median blur (``skeleton_kernel``, default 11, as MIA), Lee skeleton, its length in pixels."""

    name = "skeleton"
    label = "Skeleton length and fatness"
    columns = ("skeleton_length", "fatness")

    def measure(self, labels: Any, image: np.ndarray | None, **options: Any) -> list[dict[str, Any]]:
        """One row per contour."""
        kernel = int(options.get("skeleton_kernel", 11))
        rows = []
        for c in labels.contours:
            mask, _ = local_mask(c)
            length = skeleton_length(mask, kernel)
            rows.append({"skeleton_length": length, "fatness": c.area / length if length else None})
        return rows


@hookimpl
def mia_exporters() -> list[SkeletonMeasures]:
    return [SkeletonMeasures()]
