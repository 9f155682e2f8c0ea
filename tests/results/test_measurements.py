"""Measurements against scikit-image regionprops on the same masks, and skeletons of known length."""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.draw import disk, rectangle
from skimage.measure import label, regionprops

from mia_core.plugins import load_plugins
from mia_core.raster import labels_from_class_map


@pytest.fixture(scope="module")
def registry():
    return load_plugins(disabled=set())


def _shapes() -> np.ndarray:
    """Class map: a disc with a hole, a rectangle, an irregular blob."""
    cm = np.full((120, 140), -1, dtype=np.int16)
    cm[disk((35, 35), 25)] = 1
    cm[disk((35, 40), 8)] = -1  # a hole
    rr, cc = rectangle((70, 10), end=(100, 60))
    cm[rr, cc] = 2
    rng = np.random.default_rng(0)
    blob = np.zeros((120, 140), bool)
    blob[disk((80, 105), 18)] = True
    blob &= rng.random(blob.shape) > 0.05
    blob[disk((80, 105), 10)] = True
    from skimage.morphology import remove_small_objects
    blob = remove_small_objects(blob, max_size=50)
    lab = label(blob, connectivity=2)
    cm[lab == np.argmax(np.bincount(lab.ravel())[1:]) + 1] = 3
    return cm


def _rows(registry, labels, image):
    rows = [{} for _ in labels.contours]
    for e in registry.components("exporters"):
        for r, part in zip(rows, e.measure(labels, image)):
            r.update(part)
    return rows


@pytest.mark.parametrize("rgb", [False, True])
def test_area_centroid_bbox_intensity_match_regionprops(registry, rgb):
    cm = _shapes()
    labels = labels_from_class_map(cm)
    rng = np.random.default_rng(1)
    image = rng.integers(0, 65535, size=cm.shape + ((3,) if rgb else ()), dtype=np.uint16)
    rows = _rows(registry, labels, image)
    assert len(rows) == 3
    for c, row in zip(labels.contours, rows):
        mask = np.zeros(cm.shape, bool)
        from mia_core.raster import draw_contour
        draw_contour(mask, c, True)
        assert np.array_equal(mask, cm == c.class_id)  # the contour holds exactly its region (hole excluded)
        (p,) = regionprops(mask.astype(np.uint8), intensity_image=image)
        assert row["pixel_area"] == p.area
        assert row["centroid_y"] == pytest.approx(p.centroid[0], abs=1e-9)
        assert row["centroid_x"] == pytest.approx(p.centroid[1], abs=1e-9)
        assert (row["bbox_y0"], row["bbox_x0"], row["bbox_y1"], row["bbox_x1"]) == p.bbox
        if rgb:
            for i, ch in enumerate("rgb"):
                assert row[f"min_intensity_{ch}"] == p.intensity_min[i]
                assert row[f"max_intensity_{ch}"] == p.intensity_max[i]
                assert row[f"mean_intensity_{ch}"] == pytest.approx(p.intensity_mean[i], rel=1e-12)
        else:
            assert row["min_intensity"] == p.intensity_min
            assert row["max_intensity"] == p.intensity_max
            assert row["mean_intensity"] == pytest.approx(p.intensity_mean, rel=1e-12)


def test_polygon_size_minus_holes_and_pixel_size(registry):
    cm = np.full((60, 60), -1, np.int16)
    cm[10:41, 10:41] = 1  # 31x31 pixels: polygon through centres 30x30
    cm[20:31, 20:31] = -1  # hole of 11x11 pixels
    labels = labels_from_class_map(cm)
    (row,) = [r for r in registry.get("exporters", "shape").measure(labels, None, pixel_size=0.5)]
    # The hole's polygon runs through the centres of the pixels around it (12x12) and cuts its four
    # corners diagonally (8-connected tracing): 144 - 4 * 0.5.
    assert row["size"] == pytest.approx(30 * 30 - (12 * 12 - 2))
    assert row["area_um2"] == pytest.approx(row["size"] * 0.25)
    assert row["pixel_area"] == 31 * 31 - 11 * 11


@pytest.mark.parametrize("radius", [10, 25, 40])
def test_perimeter_of_discs_and_squares(registry, radius):
    """Perimeter is the closed polygon through boundary-pixel centres (cv2.arcLength).

    On a digital disc the polygon is a staircase of straight and diagonal steps, which overestimates
    2*pi*r by up to ~5% (measured: +3.6% at r=40), so 5% against the true circle. regionprops'
    perimeter weighs the same boundary steps (1 and sqrt(2)) and agrees to 1% (measured: 1e-8);
    a square of side n pixels has the exact polygon 4 * (n - 1).
    """
    cm = np.full((100, 100), -1, np.int16)
    cm[disk((50, 50), radius)] = 1
    labels = labels_from_class_map(cm)
    (row,) = registry.get("exporters", "shape").measure(labels, None)
    (p,) = regionprops((cm == 1).astype(np.uint8))
    assert row["perimeter"] == pytest.approx(2 * math.pi * radius, rel=0.05)
    assert row["perimeter"] == pytest.approx(p.perimeter, rel=0.01)
    sq = np.full((100, 100), -1, np.int16)
    sq[20 : 20 + radius, 30 : 30 + radius] = 1
    (row,) = registry.get("exporters", "shape").measure(labels_from_class_map(sq), None)
    assert row["perimeter"] == pytest.approx(4 * (radius - 1))


def _skeleton(registry, cm, kernel=1):
    (row,) = registry.get("exporters", "skeleton").measure(labels_from_class_map(cm), None, skeleton_kernel=kernel)
    return row


def test_skeleton_length_of_bar_ring_and_l(registry):
    bar = np.full((40, 140), -1, np.int16)
    bar[15:22, 10:130] = 1  # 120 x 7
    row = _skeleton(registry, bar)
    assert 120 - 7 <= row["skeleton_length"] <= 120  # the skeleton stops about half a width from each end
    assert row["fatness"] == pytest.approx(labels_from_class_map(bar).contours[0].area / row["skeleton_length"])
    ring = np.full((120, 120), -1, np.int16)
    ring[disk((60, 60), 45)] = 1
    ring[disk((60, 60), 38)] = -1  # centre line radius ~41.5
    assert _skeleton(registry, ring)["skeleton_length"] == pytest.approx(2 * math.pi * 41.5, rel=0.06)  # staircase bias, as for perimeters
    ell = np.full((120, 120), -1, np.int16)
    ell[10:110, 10:17] = 1
    ell[103:110, 10:110] = 1  # two arms of 100 along the outside, centre lines ~96.5 each
    length = _skeleton(registry, ell)["skeleton_length"]
    assert 2 * 96.5 - 10 <= length <= 2 * 96.5 + 2
    # the default median blur (11) smooths a noisy bar but keeps its length
    rng = np.random.default_rng(0)
    noisy = bar.copy()
    noisy[(rng.random(bar.shape) < 0.05) & (bar == -1)] = -1
    assert 100 <= _skeleton(registry, noisy, kernel=11)["skeleton_length"] <= 120
