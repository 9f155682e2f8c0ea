"""The area/centroid exporter: one table row per contour."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np


def _moments(points: np.ndarray) -> tuple[float, float, float]:
    """Polygon area and first moments (m00, m10, m01) of one closed contour."""
    m = cv2.moments(np.asarray(points, dtype=np.int32).reshape(-1, 1, 2))
    return m["m00"], m["m10"], m["m01"]


class AreaCentroidExporter:
    """Area (outer minus holes) and centroid (x, y) of every contour."""

    name = "area_centroid"
    label = "Area and centroid (example plugin)"

    def measure(self, labels: Any, image: np.ndarray | None) -> list[dict[str, Any]]:
        """One row per contour of ``labels``; ``image`` is not needed."""
        rows: list[dict[str, Any]] = []
        for index, contour in enumerate(labels.contours):
            m00, m10, m01 = _moments(contour.outer)
            for hole in contour.holes:
                h00, h10, h01 = _moments(hole)
                m00, m10, m01 = m00 - h00, m10 - h10, m01 - h01
            if m00 > 0:
                cx, cy = m10 / m00, m01 / m00
            else:  # a degenerate (line or point) contour: the mean of its points
                cx, cy = (float(v) for v in np.asarray(contour.outer, dtype=np.float64).mean(axis=0))
            rows.append(
                {
                    "contour": index,
                    "class_id": int(contour.class_id),
                    "object_id": int(contour.object_id),
                    "area": float(m00),
                    "centroid_x": float(cx),
                    "centroid_y": float(cy),
                }
            )
        return rows
