"""Scores of a segmentation against ground truth: per-class IoU and Dice, object matching and the
cell-segmentation average precision. Pure numpy/scipy (no GUI, no JAX), so scripts and tests share it.

Definitions (for one image, or pooled by summing the counts over images):

- pixel IoU of class k = |P_k & T_k| / |P_k | T_k|, Dice = 2 |P_k & T_k| / (|P_k| + |T_k|);
- objects are the truth instances and the connected components (8-connected) of each predicted class;
- at an IoU threshold t, predicted and true objects are matched one to one (Hungarian assignment,
  ``scipy.optimize.linear_sum_assignment``) so that the number of pairs with IoU >= t is largest;
  TP = matched pairs with IoU >= t, FP = predicted objects left, FN = true objects left;
- precision = TP / (TP + FP), recall = TP / (TP + FN), F1 = 2 TP / (2 TP + FP + FN), and the
  average precision of the cell-segmentation literature (Cellpose, StarDist, DSB 2018)
  AP(t) = TP / (TP + FP + FN), at t = 0.5, 0.55, ..., 0.95.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: IoU thresholds of the average precision.
THRESHOLDS: tuple[float, ...] = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))

_EIGHT = np.ones((3, 3), dtype=bool)


@dataclass
class PixelCounts:
    """Per-class intersection, prediction and truth pixel counts; add them to pool images."""

    intersection: np.ndarray
    predicted: np.ndarray
    truth: np.ndarray

    def __add__(self, other: "PixelCounts") -> "PixelCounts":
        return PixelCounts(self.intersection + other.intersection, self.predicted + other.predicted,
                           self.truth + other.truth)

    def iou(self) -> np.ndarray:
        """Per-class IoU; NaN for a class in neither prediction nor truth."""
        union = self.predicted + self.truth - self.intersection
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, self.intersection / np.maximum(union, 1), np.nan)

    def dice(self) -> np.ndarray:
        """Per-class Dice; NaN for a class in neither prediction nor truth."""
        total = self.predicted + self.truth
        return np.where(total > 0, 2 * self.intersection / np.maximum(total, 1), np.nan)


@dataclass
class ObjectCounts:
    """TP per threshold and the numbers of true and predicted objects; add them to pool images."""

    tp: np.ndarray  # (len(thresholds),)
    n_true: int
    n_pred: int
    thresholds: tuple[float, ...] = field(default=THRESHOLDS)

    def __add__(self, other: "ObjectCounts") -> "ObjectCounts":
        return ObjectCounts(self.tp + other.tp, self.n_true + other.n_true, self.n_pred + other.n_pred,
                            self.thresholds)

    def _ratio(self, num: np.ndarray, den: np.ndarray | int) -> np.ndarray:
        den = np.asarray(den, dtype=np.float64) * np.ones_like(num, dtype=np.float64)
        return np.where(den > 0, num / np.maximum(den, 1), np.nan)

    def precision(self) -> np.ndarray:
        return self._ratio(self.tp, self.n_pred)

    def recall(self) -> np.ndarray:
        return self._ratio(self.tp, self.n_true)

    def f1(self) -> np.ndarray:
        return self._ratio(2 * self.tp, self.n_true + self.n_pred)

    def average_precision(self) -> np.ndarray:
        """TP / (TP + FP + FN) per threshold (1 where there are no objects at all: nothing to miss)."""
        den = self.n_true + self.n_pred - self.tp
        return np.where(den > 0, self.tp / np.maximum(den, 1), 1.0)


def pixel_counts(truth: np.ndarray, pred: np.ndarray, num_classes: int) -> PixelCounts:
    """Counts of a class map against a truth class map; truth pixels < 0 (unlabelled) are left out."""
    if truth.shape != pred.shape:
        raise ValueError(f"truth is {truth.shape} but prediction is {pred.shape}")
    keep = truth >= 0
    t, p = truth[keep].astype(np.int64), pred[keep].astype(np.int64)
    p = np.clip(p, 0, num_classes - 1)
    inter = np.bincount(t[t == p], minlength=num_classes)[:num_classes]
    return PixelCounts(inter, np.bincount(p, minlength=num_classes)[:num_classes],
                       np.bincount(t, minlength=num_classes)[:num_classes])


def components(mask: np.ndarray) -> np.ndarray:
    """Objects of a boolean mask: 8-connected components numbered 1..n (0 = none)."""
    from scipy import ndimage

    labelled, _ = ndimage.label(mask, structure=_EIGHT)
    return labelled.astype(np.int32)


def relabel(instances: np.ndarray) -> np.ndarray:
    """Object numbers made consecutive 1..n (0 stays none)."""
    values, inverse = np.unique(instances, return_inverse=True)
    inverse = inverse.reshape(instances.shape)
    return (inverse if values[0] == 0 else inverse + 1).astype(np.int32)


def iou_matrix(truth: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """IoU of every true object (rows) with every predicted object (columns); maps numbered 1..n."""
    nt, npred = int(truth.max(initial=0)), int(pred.max(initial=0))
    pairs = np.bincount(truth.ravel().astype(np.int64) * (npred + 1) + pred.ravel(),
                        minlength=(nt + 1) * (npred + 1)).reshape(nt + 1, npred + 1)
    area_t, area_p = pairs.sum(axis=1), pairs.sum(axis=0)
    inter = pairs[1:, 1:].astype(np.float64)
    union = area_t[1:, None] + area_p[None, 1:] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 0.0)


def true_positives(iou: np.ndarray, threshold: float) -> int:
    """Largest number of one-to-one pairs with IoU >= threshold (ties broken towards higher IoU)."""
    if iou.size == 0:
        return 0
    from scipy.optimize import linear_sum_assignment

    n_min = min(iou.shape)
    cost = -(iou >= threshold).astype(np.float64) - iou / (2 * n_min)
    rows, cols = linear_sum_assignment(cost)
    return int(np.count_nonzero(iou[rows, cols] >= threshold))


def object_counts(truth: np.ndarray, pred: np.ndarray,
                  thresholds: tuple[float, ...] = THRESHOLDS) -> ObjectCounts:
    """Matching of two instance maps (0 = none; any object numbers) at each threshold."""
    t, p = relabel(truth), relabel(pred)
    iou = iou_matrix(t, p)
    tp = np.array([true_positives(iou, th) for th in thresholds], dtype=np.int64)
    return ObjectCounts(tp, iou.shape[0], iou.shape[1], tuple(thresholds))


def class_objects(class_map: np.ndarray, class_id: int) -> np.ndarray:
    """The objects of one class of a class map."""
    return components(class_map == class_id)
