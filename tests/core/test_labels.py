"""The label model's edits, checked against masks drawn independently with scikit-image."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.draw import disk, polygon as sk_polygon

from mia_core.labels import Contour, LabelSet

SHAPE = (120, 160)


def square(x0: int, y0: int, x1: int, y1: int) -> list[tuple[int, int]]:
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]


def class_mask(labels: LabelSet, class_id: int) -> np.ndarray:
    return labels.to_class_map() == class_id


def sk_square_mask(x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    m = np.zeros(SHAPE, bool)
    m[y0 : y1 + 1, x0 : x1 + 1] = True
    return m


def test_add_polygon_covers_the_polygon_pixels() -> None:
    pts = [(20, 10), (90, 30), (60, 100), (10, 70)]
    labels = LabelSet(shape=SHAPE).add_polygon(pts, 2)
    assert len(labels) == 1 and labels.contours[0].class_id == 2
    rr, cc = sk_polygon([p[1] for p in pts], [p[0] for p in pts], SHAPE)
    expected = np.zeros(SHAPE, bool)
    expected[rr, cc] = True
    got = class_mask(labels, 2)
    # Boundary pixels may differ between rasterisers; the interiors must agree.
    assert abs(int(got.sum()) - int(expected.sum())) < 0.08 * expected.sum()
    assert np.all(got[expected]) or (expected & ~got).sum() < 0.05 * expected.sum()


def test_overlapping_same_class_polygons_merge() -> None:
    labels = LabelSet(shape=SHAPE).add_polygon(square(10, 10, 50, 50), 1).add_polygon(square(40, 40, 80, 80), 1)
    assert len(labels) == 1
    expected = sk_square_mask(10, 10, 50, 50) | sk_square_mask(40, 40, 80, 80)
    assert np.array_equal(class_mask(labels, 1), expected)


def test_disjoint_polygons_stay_separate() -> None:
    labels = LabelSet(shape=SHAPE).add_polygon(square(10, 10, 30, 30), 1).add_polygon(square(60, 60, 90, 90), 1)
    assert len(labels) == 2
    assert sorted(c.pixel_count for c in labels) == [21 * 21, 31 * 31]


def test_other_class_takes_pixels_and_leaves_a_hole() -> None:
    labels = LabelSet(shape=SHAPE).add_polygon(square(10, 10, 70, 70), 1).add_polygon(square(30, 30, 40, 40), 2)
    ones = [c for c in labels if c.class_id == 1]
    twos = [c for c in labels if c.class_id == 2]
    assert len(ones) == 1 and len(twos) == 1
    assert len(ones[0].holes) == 1
    assert ones[0].pixel_count == 61 * 61 - 11 * 11
    # A pixel belongs to at most one contour.
    inst = labels.to_instance_map()
    assert (inst > 0).sum() == 61 * 61


def test_subtract_polygon_cuts_every_class() -> None:
    labels = (
        LabelSet(shape=SHAPE)
        .add_polygon(square(10, 10, 50, 50), 1)
        .add_polygon(square(51, 10, 90, 50), 2)
        .subtract_polygon(square(40, 0, 60, 119))
    )
    cm = labels.to_class_map()
    assert not np.any(cm[:, 40:61] >= 0)
    assert (cm == 1).sum() == 41 * 30 and (cm == 2).sum() == 41 * 30


def test_slice_splits_a_contour_in_two() -> None:
    labels = LabelSet(shape=SHAPE).add_polygon(square(10, 10, 100, 60), 1).slice([(55, 0), (55, 80)], width=3)
    assert len(labels) == 2
    areas = sorted(c.pixel_count for c in labels)
    assert areas[0] + areas[1] == 91 * 51 - 3 * 51


def test_diagonal_one_pixel_slice_still_separates() -> None:
    labels = LabelSet(shape=SHAPE).add_polygon(square(10, 10, 90, 90), 1).slice([(0, 0), (100, 100)], width=1)
    assert len(labels) == 2


def test_brush_paints_a_disk_and_erase_makes_a_hole() -> None:
    labels = LabelSet(shape=SHAPE).brush([(80, 60)], 10, 1)
    expected = np.zeros(SHAPE, bool)
    expected[disk((60, 80), 10, shape=SHAPE)] = True
    got = class_mask(labels, 1)
    assert abs(int(got.sum()) - int(expected.sum())) <= 0.06 * expected.sum()
    block = LabelSet(shape=SHAPE).add_polygon(square(10, 10, 110, 110), 1).brush([(60, 60)], 8, 1, erase=True)
    assert len(block) == 1 and len(block.contours[0].holes) == 1
    assert not class_mask(block, 1)[60, 60]


def test_brush_path_sweeps_between_points() -> None:
    labels = LabelSet(shape=SHAPE).brush([(20, 60), (140, 60)], 5, 1)
    m = class_mask(labels, 1)
    assert m[60, 20:141].all() and m[55:66, 80].all()
    assert not m[50, 80] and not m[70, 80]


def test_erasing_across_a_contour_splits_it() -> None:
    labels = LabelSet(shape=SHAPE).add_polygon(square(10, 40, 150, 60), 1).brush([(80, 0), (80, 119)], 6, 1, erase=True)
    assert len(labels) == 2


def test_assign_class_changes_only_the_contour_under_the_point() -> None:
    labels = LabelSet(shape=SHAPE).add_polygon(square(10, 10, 30, 30), 1).add_polygon(square(60, 60, 80, 80), 1)
    out = labels.assign_class(70, 70, 3)
    assert sorted(c.class_id for c in out) == [1, 3]
    assert out.assign_class(5, 5, 3) is out  # nothing under the point


def test_assign_class_merges_with_touching_contour_of_that_class() -> None:
    labels = LabelSet(shape=SHAPE).add_polygon(square(10, 10, 30, 30), 1).add_polygon(square(31, 10, 50, 30), 2)
    assert len(labels) == 2
    out = labels.assign_class(40, 20, 1)
    assert len(out) == 1 and out.contours[0].pixel_count == 41 * 21


def test_delete_at_removes_one_contour() -> None:
    labels = LabelSet(shape=SHAPE).add_polygon(square(10, 10, 30, 30), 1).add_polygon(square(60, 60, 80, 80), 2)
    out = labels.delete_at(20, 20)
    assert [c.class_id for c in out] == [2]
    assert labels.delete_at(0, 0) is labels


def test_point_in_a_hole_is_not_in_the_contour() -> None:
    ring = LabelSet(shape=SHAPE).add_polygon(square(10, 10, 70, 70), 1).subtract_polygon(square(30, 30, 50, 50))
    assert ring.contour_at(40, 40) is None
    assert ring.contour_at(15, 15) == 0
    assert ring.contour_at(30, 40) is None and ring.contour_at(29, 40) == 0


def test_fill_holes_fills_empty_holes_but_not_other_classes() -> None:
    labels = (
        LabelSet(shape=SHAPE)
        .add_polygon(square(10, 10, 90, 90), 1)
        .subtract_polygon(square(20, 20, 40, 40))
        .add_polygon(square(60, 60, 70, 70), 2)
    )
    ones = [c for c in labels if c.class_id == 1][0]
    assert len(ones.holes) == 2
    filled = labels.fill_holes()
    ones = [c for c in filled if c.class_id == 1][0]
    assert len(ones.holes) == 1  # the class-2 square keeps its place
    assert (filled.to_class_map() == 2).sum() == 121
    assert (filled.to_class_map() == 1).sum() == 81 * 81 - 121


def test_add_without_inner_contours_fills_the_hole() -> None:
    # A closed brush stroke around a square encloses an unlabelled hole.
    labels = LabelSet(shape=SHAPE).brush(np.array(square(20, 20, 80, 80) + [(20, 20)]), 4, 1, inner_contours=False)
    assert len(labels) == 1 and labels.contours[0].holes == ()
    with_holes = LabelSet(shape=SHAPE).brush(np.array(square(20, 20, 80, 80) + [(20, 20)]), 4, 1)
    assert len(with_holes.contours[0].holes) == 1


def test_drop_small() -> None:
    labels = LabelSet(shape=SHAPE).add_polygon(square(10, 10, 12, 12), 1).add_polygon(square(50, 50, 90, 90), 1)
    out = labels.drop_small(20)
    assert len(out) == 1 and out.contours[0].area == 1600


def test_edits_never_label_outside_the_image() -> None:
    labels = LabelSet(shape=SHAPE).add_polygon([(-20, -20), (50, -20), (50, 50), (-20, 50)], 1)
    x0, y0, x1, y1 = labels.contours[0].bbox
    assert (x0, y0) == (0, 0) and (x1, y1) == (51, 51)
    assert labels.contours[0].pixel_count == 51 * 51


def test_object_numbers_survive_edits() -> None:
    base = LabelSet([Contour(1, np.array(square(10, 10, 40, 40)), object_id=7)], SHAPE)
    out = base.add_polygon(square(35, 35, 60, 60), 1)
    assert len(out) == 1 and out.contours[0].object_id == 7
    split = base.slice([(25, 0), (25, 60)], 2)
    assert [c.object_id for c in split] == [7, 7]


def test_edit_far_away_keeps_other_contours_identical() -> None:
    labels = LabelSet(shape=SHAPE).add_polygon(square(10, 10, 30, 30), 1)
    first = labels.contours[0]
    out = labels.add_polygon(square(100, 80, 120, 100), 2)
    assert out.contours[0] is first


def test_polygon_with_too_few_points_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 3 points"):
        LabelSet(shape=SHAPE).add_polygon([(0, 0), (5, 5)], 1)


def test_without_inner_contours_a_cut_inside_a_contour_makes_no_hole() -> None:
    """Inner contours off: a delete, erase or slice wholly inside a contour leaves it whole."""
    labels = LabelSet(shape=SHAPE).add_polygon(square(20, 20, 100, 100), 1)
    inside = square(45, 45, 70, 70)
    assert labels.subtract_polygon(inside, inner_contours=False) is labels
    assert labels.brush([(50, 60), (80, 60)], 6, 1, erase=True, inner_contours=False) is labels
    assert labels.slice([(40, 60), (80, 60)], 2, inner_contours=False) is labels
    holed = labels.subtract_polygon(inside)  # with inner contours: the hole the user asked for
    assert len(holed.contours[0].holes) == 1
    # A cut through the edge still cuts: a notch, not a hole (scikit-image reference mask).
    notch = [(90, 50), (130, 50), (130, 70), (90, 70)]
    cut = labels.subtract_polygon(notch, inner_contours=False)
    (c,) = cut.contours
    assert c.holes == ()
    rr, cc = sk_polygon([p[1] for p in notch], [p[0] for p in notch], SHAPE)
    removed = np.zeros(SHAPE, bool)
    removed[rr, cc] = True
    expected = sk_square_mask(20, 20, 100, 100) & ~removed
    got = class_mask(cut, 1)
    assert (got ^ expected).sum() <= 2 * 21  # one boundary column of rasteriser difference at most


def test_without_inner_contours_deleting_a_contour_inside_another_fills_its_place() -> None:
    ring = LabelSet(shape=SHAPE).add_polygon(square(20, 20, 100, 100), 1)
    nested = ring.add_polygon(square(50, 50, 60, 60), 2)  # takes its pixels from class 1
    assert len([c for c in nested if c.class_id == 1][0].holes) == 1
    kept = nested.delete_at(55, 55)
    assert len(kept) == 1 and len(kept.contours[0].holes) == 1  # inner contours on: the hole stays
    filled = nested.delete_at(55, 55, inner_contours=False)
    assert len(filled) == 1 and filled.contours[0].holes == ()
    np.testing.assert_array_equal(class_mask(filled, 1), sk_square_mask(20, 20, 100, 100))
