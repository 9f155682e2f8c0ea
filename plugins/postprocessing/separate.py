"""Split touching objects of one class: distance transform, seeded watershed with watershed lines."""

from __future__ import annotations

from typing import Any

import numpy as np

from mia_core.hooks import hookimpl
from mia_core.instance_split import split_mask
from mia_core.labels import LabelSet
from mia_core.measure import local_mask
from mia_core.raster import contours_from_mask


class SeparateInstances:
    """Seeds at distance-transform peaks ``min_distance`` apart (default 20, as MIA); a one-pixel
    background line is kept between the parts so they do not merge again at the next edit."""

    name = "separate"

    def apply(self, labels: LabelSet, **options: Any) -> LabelSet:
        """Every contour split into its watershed parts (object numbers kept)."""
        d = int(options.get("min_distance", 20))
        out = []
        for c in labels.contours:
            mask, origin = local_mask(c)
            parts = split_mask(np.pad(mask, 1), d)
            if parts.max() <= 1:
                out.append(c)
                continue
            for v in range(1, int(parts.max()) + 1):
                out += contours_from_mask(parts == v, c.class_id, (origin[0] - 1, origin[1] - 1),
                                          object_id=c.object_id)
        return LabelSet(out, labels.shape)


@hookimpl
def mia_postprocessors() -> list[SeparateInstances]:
    return [SeparateInstances()]
