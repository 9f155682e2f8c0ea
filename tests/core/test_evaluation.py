"""Segmentation scores against independent computations: boolean-mask IoU, brute-force matching,
scikit-image's IoU, and Cellpose's ``metrics.average_precision`` where installed."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from skimage import measure

from mia_core import evaluation as ev


def _random_instances(rng: np.random.Generator, n: int, shape=(48, 48)) -> np.ndarray:
    out = np.zeros(shape, np.int32)
    for k in range(1, n + 1):
        r, c = rng.integers(0, shape[0] - 8), rng.integers(0, shape[1] - 8)
        h, w = rng.integers(3, 12, size=2)
        out[r : r + h, c : c + w] = k  # later objects overlap earlier ones: shapes vary
    return out


def _brute_tp(truth: np.ndarray, pred: np.ndarray, t: float) -> int:
    """Most one-to-one pairs with IoU >= t over every injective matching, IoU from boolean masks."""
    tv = [v for v in np.unique(truth) if v]
    pv = [v for v in np.unique(pred) if v]
    ok = {(a, b) for a in range(len(tv)) for b in range(len(pv))
          if (lambda x, y: (x & y).sum() / (x | y).sum())(truth == tv[a], pred == pv[b]) >= t}
    best = 0
    small, large = (tv, pv) if len(tv) <= len(pv) else (pv, tv)
    for perm in itertools.permutations(range(len(large)), len(small)):
        pairs = ((i, j) if small is tv else (j, i) for i, j in enumerate(perm))
        best = max(best, sum(p in ok for p in pairs))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_matching_equals_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    truth = _random_instances(rng, int(rng.integers(1, 6)))
    # A prediction: the truth shifted by a pixel or two, some objects dropped, a few false ones.
    pred = np.roll(truth, tuple(rng.integers(-2, 3, size=2)), axis=(0, 1)) * (rng.random() > 0.1)
    pred = np.where(_random_instances(rng, 2) > 0, 50 + _random_instances(rng, 2), pred)
    counts = ev.object_counts(truth, pred, thresholds=(0.1, 0.3, 0.5, 0.75, 0.9))
    expected = [_brute_tp(truth, pred, t) for t in (0.1, 0.3, 0.5, 0.75, 0.9)]
    assert counts.tp.tolist() == expected
    assert counts.n_true == len(np.unique(truth)) - 1 and counts.n_pred == len(np.unique(pred)) - 1
    tp, fp, fn = counts.tp, counts.n_pred - counts.tp, counts.n_true - counts.tp
    np.testing.assert_allclose(counts.average_precision(), np.where(tp + fp + fn, tp / np.maximum(tp + fp + fn, 1), 1))


def test_pixel_iou_and_dice_match_boolean_masks() -> None:
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 3, (30, 40))
    pred = np.where(rng.random((30, 40)) < 0.3, rng.integers(0, 3, (30, 40)), truth)
    counts = ev.pixel_counts(truth, pred, 3)
    for k in range(3):
        t, p = truth == k, pred == k
        assert counts.iou()[k] == pytest.approx((t & p).sum() / (t | p).sum())
        assert counts.dice()[k] == pytest.approx(2 * (t & p).sum() / (t.sum() + p.sum()))
    # Pooling adds counts: two images score like their concatenation.
    both = ev.pixel_counts(np.hstack([truth, truth[::-1]]), np.hstack([pred, pred[::-1]]), 3)
    np.testing.assert_allclose((counts + ev.pixel_counts(truth[::-1], pred[::-1], 3)).iou(), both.iou())


def test_components_are_scikit_image_8_connected_labels() -> None:
    mask = np.random.default_rng(1).random((40, 40)) > 0.6
    ours = ev.components(mask)
    ref = measure.label(mask, connectivity=2)
    assert ours.max() == ref.max()
    # Same partition of the pixels (numbering may differ).
    assert len(np.unique(ours.astype(np.int64) * 10000 + ref)) == ref.max() + 1


@pytest.mark.reference
def test_average_precision_matches_cellpose() -> None:
    metrics = pytest.importorskip("cellpose.metrics", reason="cellpose not installed (pip install cellpose; needs torch)")
    rng = np.random.default_rng(7)
    truth = [_random_instances(rng, 5) for _ in range(3)]
    pred = [np.roll(t, (1, 2), axis=(0, 1)) for t in truth]
    thresholds = list(ev.THRESHOLDS)
    ap, tp, fp, fn = metrics.average_precision(truth, pred, threshold=thresholds)
    for i in range(3):
        counts = ev.object_counts(truth[i], pred[i], tuple(thresholds))
        np.testing.assert_array_equal(counts.tp, tp[i])
        np.testing.assert_allclose(counts.average_precision(), ap[i])
