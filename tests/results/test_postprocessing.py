"""Minimum size and instance separation of touching objects."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.draw import disk
from skimage.measure import label

from mia_core.plugins import load_plugins
from mia_core.raster import contour_mask, labels_from_class_map


@pytest.fixture(scope="module")
def registry():
    return load_plugins(disabled=set())


def test_min_size_counts_pixels(registry):
    cm = np.full((30, 30), -1, np.int16)
    cm[2, 2] = 1
    cm[5:7, 5] = 1  # 2 pixels
    cm[10:12, 10:12] = 2  # 4 pixels
    labels = labels_from_class_map(cm)
    kept = registry.get("postprocessors", "min_size").apply(labels, min_size=3)
    assert [c.pixel_count for c in kept] == [4]
    assert len(registry.get("postprocessors", "min_size").apply(labels, min_size=1)) == 3


def test_min_size_keeps_objects_a_field_of_view_cuts(registry):
    """A field-of-view prediction cuts objects at the view's edges: their size is unknown, so they stay;
    small ones inside the view, and ones cut only by the image's own edge, still go."""
    from mia_core.results import ExportSettings, postprocess

    cm = np.full((60, 80), -1, np.int16)
    view = (10, 0, 50, 40)  # x 10-49, y 0-39: top edge is the image's, the others are inside it
    cm[20:23, 10:12] = 1  # 6 px on the view's left edge: cut by the view
    cm[39, 30:33] = 1  # 3 px on the view's bottom edge
    cm[18:21, 47:50] = 1  # 9 px on the view's right edge
    cm[0:2, 30:32] = 1  # 4 px on the image's top edge (also the view's): a real small object
    cm[25:27, 25:27] = 1  # 4 px inside the view
    cm[5:15, 20:30] = 1  # 100 px, large
    labels = labels_from_class_map(cm)
    min_size = registry.get("postprocessors", "min_size")
    kept = min_size.apply(labels, min_size=20, view=view)
    assert sorted(c.pixel_count for c in kept) == [3, 6, 9, 100]
    assert [c.pixel_count for c in min_size.apply(labels, min_size=20)] == [100]  # no view: all small go
    assert sorted(c.pixel_count for c in postprocess(registry, labels, ExportSettings(min_size=20), view)) == [
        3, 6, 9, 100]


def test_min_size_drops_objects_a_pixel_inside_the_view_and_on_the_images_far_edges(registry):
    """Only touching the view's edge counts as cut: one pixel inside is a whole speck; a view that ends
    at the image's right and bottom edges cuts nothing there."""
    cm = np.full((60, 80), -1, np.int16)
    view = (30, 20, 80, 60)  # reaches the image's right (x 79) and bottom (y 59) edges
    cm[40:42, 31:33] = 1  # 4 px, one pixel inside the view's left edge
    cm[21:23, 50:52] = 1  # 4 px, one pixel inside the top edge
    cm[40:42, 78:80] = 1  # 4 px on the image's right edge (also the view's)
    cm[58:60, 50:52] = 1  # 4 px on the image's bottom edge (also the view's)
    cm[30:33, 30:32] = 1  # 6 px on the view's left edge: cut
    labels = labels_from_class_map(cm)
    min_size = registry.get("postprocessors", "min_size")
    assert [c.pixel_count for c in min_size.apply(labels, min_size=20, view=view)] == [6]


def test_separation_splits_touching_discs_with_a_gap(registry):
    cm = np.full((80, 120), -1, np.int16)
    cm[disk((40, 35), 22)] = 1
    cm[disk((40, 78), 22)] = 1  # overlaps the first: one merged contour
    cm[disk((10, 110), 5)] = 2
    labels = labels_from_class_map(cm)
    assert len(labels) == 2
    out = registry.get("postprocessors", "separate").apply(labels, min_distance=10)
    ones = [c for c in out if c.class_id == 1]
    assert len(ones) == 2 and len([c for c in out if c.class_id == 2]) == 1
    union = np.zeros(cm.shape, bool)
    for c in ones:
        union |= contour_mask(c, cm.shape)
    # The parts do not touch, even diagonally, so they stay apart when traced again.
    assert label(union, connectivity=2).max() == 2
    assert (cm == 1).sum() - union.sum() < 60  # only the one-pixel line is lost
    xs = sorted(np.nonzero(contour_mask(c, cm.shape))[1].mean() for c in ones)
    assert xs[0] == pytest.approx(35, abs=4) and xs[1] == pytest.approx(78, abs=4)
    # A far-apart seed distance leaves the pair alone.
    assert len(registry.get("postprocessors", "separate").apply(labels, min_distance=60)) == 2


def test_postprocess_files_rewrites_predicted_labels(registry, tmp_path):
    """What ``mia predict --min-size N --separate`` applies to the label files it wrote."""
    from mia_core.label_store import label_path, load_labels, save_labels
    from mia_core.results import ExportSettings, postprocess_files

    cm = np.full((80, 120), -1, np.int16)
    cm[disk((40, 35), 22)] = 1
    cm[disk((40, 78), 22)] = 1
    cm[5, 5] = 1
    a, b = label_path(tmp_path / "a.png"), label_path(tmp_path / "b.png")
    save_labels(a, labels_from_class_map(cm))
    save_labels(b, labels_from_class_map(cm[:, :10]))  # only the single pixel
    changed = postprocess_files(registry, [a, b], ExportSettings(min_size=3, separate=True, min_distance=10))
    assert changed == 2
    assert len(load_labels(a)) == 2 and not b.exists()


def test_skeleton_overlay_draws_centre_lines_and_leaves_labels_alone(registry):
    from mia_core.api import OverlayPostprocessor

    cm = np.full((60, 80), -1, np.int16)
    cm[10:17, 5:46] = 1  # horizontal bar, rows 10..16: centre row 13
    cm[20:55, 60:67] = 2  # vertical bar, columns 60..66: centre column 63
    cm[40:50, 10:20] = 1  # a 10x10 square
    labels = labels_from_class_map(cm)
    skel = registry.get("postprocessors", "skeleton")
    assert isinstance(skel, OverlayPostprocessor)
    assert skel.apply(labels) is labels
    by_box = {c.bbox: px for c, px in zip(labels.contours, skel.overlay(labels, skeleton_kernel=1))}
    bar = by_box[(5, 10, 46, 17)]
    assert set(bar[:, 1]) == {13} and bar[:, 0].min() >= 5 and bar[:, 0].max() <= 45
    assert bar[:, 0].max() - bar[:, 0].min() >= 30  # most of the bar's length
    col = by_box[(60, 20, 67, 55)]
    assert set(col[:, 0]) == {63}
    # every skeleton pixel lies inside its contour
    for c, px in zip(labels.contours, skel.overlay(labels, skeleton_kernel=11)):
        m = contour_mask(c, (60, 80))
        assert len(px) and m[px[:, 1], px[:, 0]].all()
