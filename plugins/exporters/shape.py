"""Area (pixel count and polygon area), perimeter, centroid and bounding box of every contour."""

from __future__ import annotations

from typing import Any

import numpy as np

from mia_core.hooks import hookimpl
from mia_core.measure import centroid, local_mask, perimeter


class ShapeMeasures:
    """Geometry of each contour; with a pixel size (µm) areas and lengths also come in µm."""

    name = "shape"
    label = "Area, perimeter, centroid, bounding box"
    columns = ("pixel_area", "size", "area_um2", "perimeter", "perimeter_um",
               "centroid_x", "centroid_y", "bbox_x0", "bbox_y0", "bbox_x1", "bbox_y1")

    def measure(self, labels: Any, image: np.ndarray | None, **options: Any) -> list[dict[str, Any]]:
        """One row per contour; ``pixel_size`` (µm per pixel) fills the µm columns."""
        px = options.get("pixel_size")
        rows = []
        for c in labels.contours:
            mask, origin = local_mask(c)
            ys, xs = np.nonzero(mask)
            cx, cy = centroid(mask, origin)
            per = perimeter(c)
            rows.append({
                "pixel_area": int(mask.sum()),
                "size": c.area,
                "area_um2": c.area * px * px if px else None,
                "perimeter": per,
                "perimeter_um": per * px if px else None,
                "centroid_x": cx, "centroid_y": cy,
                "bbox_x0": int(xs.min() + origin[0]), "bbox_y0": int(ys.min() + origin[1]),
                "bbox_x1": int(xs.max() + origin[0] + 1), "bbox_y1": int(ys.max() + origin[1] + 1),
            })
        return rows


@hookimpl
def mia_exporters() -> list[ShapeMeasures]:
    return [ShapeMeasures()]
