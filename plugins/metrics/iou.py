"""Intersection over union per class and its mean over every class (the last one included)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mia_core.hooks import hookimpl


def confusion_matrix(pred: Any, target: Any, mask: Any, num_classes: int) -> np.ndarray:
    """(K, K) int64 counts, rows = target class, columns = predicted class, over ``mask`` pixels."""
    pred = np.asarray(pred)
    target = np.asarray(target)
    if pred.shape != target.shape:
        raise ValueError(f"metric: pred shape {pred.shape} differs from target shape {target.shape}")
    keep = np.ones(pred.shape, bool) if mask is None else np.asarray(mask) > 0
    p = pred[keep].astype(np.int64)
    t = target[keep].astype(np.int64)
    for what, values in (("pred", p), ("target", t)):
        if values.size and (values.min() < 0 or values.max() >= num_classes):
            raise ValueError(
                f"metric: {what} holds class ids outside 0..{num_classes - 1} in counted pixels"
            )
    counts = np.bincount(t * num_classes + p, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes)


@dataclass(frozen=True)
class IoUMetric:
    """Per-class IoU = TP / (TP + FP + FN); "iou" is the mean over classes that occur.

    A class absent from both prediction and target (in the counted pixels) has no IoU (NaN in
    ``per_class``) and is left out of the mean; "iou" is NaN only when no pixel counts.
    ``intersection`` and ``union`` let a caller sum over batches before dividing.
    """

    name: str = "iou"

    def __call__(self, pred: Any, target: Any, mask: Any, num_classes: int) -> dict[str, Any]:
        """IoU of integer class maps ``pred`` vs ``target`` over the pixels where ``mask`` > 0."""
        cm = confusion_matrix(pred, target, mask, num_classes)
        intersection = np.diag(cm)
        union = cm.sum(axis=0) + cm.sum(axis=1) - intersection
        with np.errstate(invalid="ignore", divide="ignore"):
            per_class = np.where(union > 0, intersection / np.maximum(union, 1), np.nan)
        present = union > 0
        mean = float(per_class[present].mean()) if present.any() else float("nan")
        return {
            "iou": mean,
            "per_class": per_class,
            "intersection": intersection,
            "union": union,
        }


@hookimpl
def mia_metrics() -> list[IoUMetric]:
    """Register IoU."""
    return [IoUMetric()]
