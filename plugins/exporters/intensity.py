"""Min / mean / max intensity over every pixel inside each contour (holes excluded, each channel)."""

from __future__ import annotations

from typing import Any

import numpy as np

from mia_core.hooks import hookimpl
from mia_core.measure import local_mask


class IntensityMeasures:
    """Grey images give min/mean/max; RGB images one triple per channel (``_r``, ``_g``, ``_b``)."""

    name = "intensity"
    label = "Min / mean / max intensity"
    columns = ("min_intensity", "mean_intensity", "max_intensity",
               *(f"{s}_intensity_{ch}" for ch in "rgb" for s in ("min", "mean", "max")))

    def measure(self, labels: Any, image: np.ndarray | None, **options: Any) -> list[dict[str, Any]]:
        """One row per contour; empty rows when there is no image."""
        rows = []
        for c in labels.contours:
            row: dict[str, Any] = {}
            if image is not None:
                mask, (x0, y0) = local_mask(c)
                h, w = mask.shape
                values = image[y0 : y0 + h, x0 : x0 + w][mask]
                if image.ndim == 2:
                    row.update(_stats(values, ""))
                else:
                    for i, ch in enumerate("rgb"[: image.shape[2]]):
                        row.update(_stats(values[:, i], f"_{ch}"))
            rows.append(row)
        return rows


def _stats(values: np.ndarray, suffix: str) -> dict[str, Any]:
    return {f"min_intensity{suffix}": values.min().item(), f"mean_intensity{suffix}": float(values.mean()),
            f"max_intensity{suffix}": values.max().item()}


@hookimpl
def mia_exporters() -> list[IntensityMeasures]:
    return [IntensityMeasures()]
