"""Leave out contours smaller than N pixels (MIA's default 3)."""

from __future__ import annotations

from typing import Any

from mia_core.hooks import hookimpl
from mia_core.labels import LabelSet


class MinSize:
    """Drops contours covering fewer than ``min_size`` pixels."""

    name = "min_size"

    def apply(self, labels: LabelSet, **options: Any) -> LabelSet:
        """The labels without contours of fewer than ``min_size`` (default 3) pixels."""
        n = int(options.get("min_size", 3))
        keep = [c for c in labels.contours if c.pixel_count >= n]
        return labels if len(keep) == len(labels) else LabelSet(keep, labels.shape)


@hookimpl
def mia_postprocessors() -> list[MinSize]:
    return [MinSize()]
