"""Leave out contours smaller than N pixels (MIA's default 3).

A prediction of only the field of view cuts the objects on the view's edges; their true size is
unknown, so with ``view=(x0, y0, x1, y1)`` a contour touching an edge of the view that is not also
the image's edge is kept whatever its size.
"""

from __future__ import annotations

from typing import Any

from mia_core.hooks import hookimpl
from mia_core.labels import Contour, LabelSet


def cut_by_view(contour: Contour, view: tuple[int, int, int, int], shape: tuple[int, ...] | None) -> bool:
    """True when the contour touches an edge of ``view`` (x1, y1 exclusive) inside the image."""
    x0, y0, x1, y1 = view
    h, w = (shape[0], shape[1]) if shape else (None, None)
    bx0, by0, bx1, by1 = contour.bbox
    return ((bx0 <= x0 and x0 > 0) or (by0 <= y0 and y0 > 0)
            or (bx1 >= x1 and (w is None or x1 < w)) or (by1 >= y1 and (h is None or y1 < h)))


class MinSize:
    """Drops contours covering fewer than ``min_size`` pixels."""

    name = "min_size"

    def apply(self, labels: LabelSet, **options: Any) -> LabelSet:
        """The labels without contours of fewer than ``min_size`` (default 3) pixels; with ``view``,
        those cut by the view's edges stay."""
        n = int(options.get("min_size", 3))
        view = options.get("view")
        keep = [c for c in labels.contours
                if c.pixel_count >= n or (view is not None and cut_by_view(c, view, labels.shape))]
        return labels if len(keep) == len(labels) else LabelSet(keep, labels.shape)


@hookimpl
def mia_postprocessors() -> list[MinSize]:
    return [MinSize()]
