"""Metrics against a confusion matrix counted pixel by pixel in numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mia_core.api import check_component
from mia_plugins.metrics import iou, pixel_accuracy

K = 5  # class 2 never occurs; class 4 (the last) does


def _maps(seed: int = 0):
    rng = np.random.default_rng(seed)
    present = np.array([0, 1, 3, 4])
    target = present[rng.integers(0, 4, (3, 16, 20))]
    pred = np.where(rng.random(target.shape) < 0.6, target, present[rng.integers(0, 4, target.shape)])
    mask = rng.random(target.shape) < 0.8
    pred[~mask & (rng.random(target.shape) < 0.5)] = 2  # a class only in uncounted pixels
    return pred, target, mask


def _confusion_by_loop(pred, target, mask, k):
    cm = np.zeros((k, k), np.int64)
    for p, t, m in zip(pred.ravel(), target.ravel(), mask.ravel()):
        if m:
            cm[t, p] += 1
    return cm


def test_confusion_matrix_matches_pixel_loop():
    pred, target, mask = _maps()
    np.testing.assert_array_equal(
        iou.confusion_matrix(pred, target, mask, K), _confusion_by_loop(pred, target, mask, K)
    )


def test_iou_per_class_and_mean_over_every_present_class_including_the_last():
    pred, target, mask = _maps(1)
    result = iou.IoUMetric()(pred, target, mask, K)
    cm = _confusion_by_loop(pred, target, mask, K)
    expected = {}
    for c in range(K):
        tp = cm[c, c]
        fp = cm[:, c].sum() - tp
        fn = cm[c, :].sum() - tp
        if tp + fp + fn:
            expected[c] = tp / (tp + fp + fn)
    assert sorted(expected) == [0, 1, 3, 4]  # class 2 is absent from pred and target
    assert math.isnan(result["per_class"][2])
    for c, value in expected.items():
        assert result["per_class"][c] == pytest.approx(value)
    assert result["iou"] == pytest.approx(np.mean(list(expected.values())))
    assert result["per_class"][K - 1] == pytest.approx(expected[K - 1])
    np.testing.assert_array_equal(result["intersection"], np.diag(cm))


def test_iou_counts_a_wrong_last_class_prediction():
    target = np.array([[0, 0, 1, 1]])
    pred = np.array([[0, 2, 1, 2]])  # class 2 only predicted: IoU 0, still in the mean
    result = iou.IoUMetric()(pred, target, None, 3)
    np.testing.assert_allclose(result["per_class"], [1 / 2, 1 / 2, 0.0])
    assert result["iou"] == pytest.approx(1 / 3)


def test_iou_of_batches_summed_equals_iou_of_whole():
    pred, target, mask = _maps(2)
    whole = iou.IoUMetric()(pred, target, mask, K)
    parts = [iou.IoUMetric()(pred[i], target[i], mask[i], K) for i in range(len(pred))]
    inter = sum(p["intersection"] for p in parts)
    union = sum(p["union"] for p in parts)
    present = union > 0
    assert whole["iou"] == pytest.approx(np.mean(inter[present] / union[present]))


def test_iou_without_counted_pixels_is_nan_and_bad_ids_are_rejected():
    pred, target, _ = _maps(3)
    assert math.isnan(iou.IoUMetric()(pred, target, np.zeros(pred.shape, bool), K)["iou"])
    with pytest.raises(ValueError, match="outside 0..3"):
        iou.IoUMetric()(pred, target, None, 4)
    with pytest.raises(ValueError, match="shape"):
        iou.IoUMetric()(pred[:1], target, None, K)


def test_pixel_accuracy_matches_numpy():
    pred, target, mask = _maps(4)
    result = pixel_accuracy.PixelAccuracyMetric()(pred, target, mask, K)
    cm = _confusion_by_loop(pred, target, mask, K)
    assert result["pixel_accuracy"] == pytest.approx(np.trace(cm) / cm.sum())
    assert (result["correct"], result["total"]) == (np.trace(cm), mask.sum())
    weights = mask * np.random.default_rng(5).uniform(0.5, 3.0, mask.shape)
    assert pixel_accuracy.PixelAccuracyMetric()(pred, target, weights, K) == result
    empty = pixel_accuracy.PixelAccuracyMetric()(pred, target, np.zeros(pred.shape), K)
    assert math.isnan(empty["pixel_accuracy"]) and empty["total"] == 0


def test_metrics_accept_jax_arrays():
    import jax.numpy as jnp

    pred, target, mask = _maps(6)
    a = iou.IoUMetric()(jnp.asarray(pred), jnp.asarray(target), jnp.asarray(mask), K)
    b = iou.IoUMetric()(pred, target, mask, K)
    assert a["iou"] == pytest.approx(b["iou"])


@pytest.mark.parametrize(
    "module,name", [(iou, "iou"), (pixel_accuracy, "pixel_accuracy")]
)
def test_plugin_registers_one_valid_metric_whose_headline_is_its_name(module, name):
    components = module.mia_metrics()
    assert [c.name for c in components] == [name]
    assert check_component("metrics", components[0]) is None
    pred, target, mask = _maps(7)
    assert name in components[0](pred, target, mask, K)
