"""Raster <-> contour conversions: exact round trips, checked against scikit-image labelling."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from skimage.measure import label as sk_label

from mia_core import raster
from mia_core.labels import LabelSet


def random_class_map(seed: int, shape: tuple[int, int] = (64, 80), classes: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    smooth = cv2.GaussianBlur(rng.random(shape), (0, 0), rng.uniform(0.8, 3.0))
    cm = np.full(shape, -1, dtype=np.int16)
    cuts = np.quantile(smooth, np.linspace(0.3, 1.0, classes + 1))
    for c in range(classes):
        cm[(smooth >= cuts[c]) & (smooth < cuts[c + 1])] = c
    cm[rng.random(shape) < 0.03] = -1  # speckle: single-pixel holes and islands
    return cm


@pytest.mark.parametrize("seed", range(25))
def test_class_map_round_trip_is_exact(seed: int) -> None:
    cm = random_class_map(seed)
    labels = raster.labels_from_class_map(cm)
    assert np.array_equal(labels.to_class_map(), cm)
    # One contour per 8-connected region of each class, as scikit-image counts them.
    for c in range(3):
        regions = sk_label(cm == c, connectivity=2).max()
        assert sum(1 for x in labels if x.class_id == c) == regions


def test_instance_map_keeps_object_numbers_and_touching_objects_apart() -> None:
    im = np.zeros((40, 40), dtype=np.int32)
    im[5:15, 5:15] = 3
    im[5:15, 15:25] = 9  # touches object 3
    im[30:35, 30:35] = 1
    labels = raster.labels_from_instance_map(im, class_of={3: 2, 9: 1, 1: 1})
    assert sorted((c.object_id, c.class_id) for c in labels) == [(1, 1), (3, 2), (9, 1)]
    by_obj = {c.object_id: c for c in labels}
    assert by_obj[3].pixel_count == 100 and by_obj[9].pixel_count == 100
    assert np.array_equal(raster.contour_mask(by_obj[9], im.shape), im == 9)


def test_draw_contour_leaves_islands_inside_holes() -> None:
    cm = np.full((30, 30), -1, dtype=np.int16)
    cm[2:28, 2:28] = 1
    cm[8:22, 8:22] = -1
    cm[12:18, 12:18] = 1  # an island of the same class inside the hole
    labels = raster.labels_from_class_map(cm)
    assert len(labels) == 2
    for order in (labels.contours, labels.contours[::-1]):
        assert np.array_equal(LabelSet(order, cm.shape).to_class_map(), cm)


def test_line_mask_width_and_four_connectivity() -> None:
    m = raster.line_mask(np.array([[10, 2], [10, 40]]), 3, (50, 50))
    assert m[20].sum() == 3
    diag = raster.line_mask(np.array([[0, 0], [30, 30]]), 1, (40, 40))
    ys, xs = np.nonzero(diag)
    # Every step of a 4-connected line moves in x or in y, never both.
    assert sk_label(~diag[:20, :20], connectivity=2).max() == 2


def test_brush_mask_is_a_disk_of_the_radius() -> None:
    m = raster.brush_mask(np.array([[25, 25]]), 6, (51, 51))
    yy, xx = np.mgrid[:51, :51]
    ideal = (yy - 25) ** 2 + (xx - 25) ** 2 <= 36
    assert abs(int(m.sum()) - int(ideal.sum())) <= 8
    line = raster.brush_mask(np.array([[5, 25], [45, 25]]), 6, (51, 51))
    assert line[:, 25].sum() == m[:, 25].sum(), "the swept path is as wide as the brush"


def test_fill_mask_holes() -> None:
    m = np.zeros((20, 20), bool)
    m[2:18, 2:18] = True
    m[6:10, 6:10] = False
    filled = raster.fill_mask_holes(m)
    assert filled[2:18, 2:18].all() and filled.sum() == 256


def test_bad_maps_are_refused() -> None:
    with pytest.raises(ValueError, match="2-D"):
        raster.labels_from_class_map(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=">= 0"):
        raster.labels_from_instance_map(np.array([[0, -3]]))
    with pytest.raises(ValueError, match="object 5 has no class"):
        raster.labels_from_instance_map(np.array([[0, 5]]), class_of={4: 1})
    with pytest.raises(ValueError, match="finite"):
        raster.as_points([[0, np.nan]])
