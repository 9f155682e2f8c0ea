"""Fraction of counted pixels whose predicted class is right."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mia_core.hooks import hookimpl


@dataclass(frozen=True)
class PixelAccuracyMetric:
    """correct / total over the pixels where ``mask`` > 0 (NaN when none counts)."""

    name: str = "pixel_accuracy"

    def __call__(self, pred: Any, target: Any, mask: Any, num_classes: int) -> dict[str, Any]:
        """Pixel accuracy plus the ``correct`` and ``total`` counts for summing over batches."""
        pred = np.asarray(pred)
        target = np.asarray(target)
        if pred.shape != target.shape:
            raise ValueError(f"metric: pred shape {pred.shape} differs from target shape {target.shape}")
        keep = np.ones(pred.shape, bool) if mask is None else np.asarray(mask) > 0
        correct = int(np.count_nonzero(pred[keep] == target[keep]))
        total = int(np.count_nonzero(keep))
        return {
            "pixel_accuracy": correct / total if total else float("nan"),
            "correct": correct,
            "total": total,
        }


@hookimpl
def mia_metrics() -> list[PixelAccuracyMetric]:
    """Register pixel accuracy."""
    return [PixelAccuracyMetric()]
