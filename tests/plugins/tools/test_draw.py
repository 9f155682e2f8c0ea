"""The freehand draw tool: add, delete and slice strokes on blank and labelled images."""

from __future__ import annotations

import numpy as np
import pytest

import mia_plugins.tools.draw as draw_module
from mia_core.label_store import load_labels
from mia_plugins.tools.draw import DrawTool


def test_registers_one_tool_with_f2(register):
    (tool,) = register(draw_module)
    assert isinstance(tool, DrawTool)
    assert (tool.name, tool.shortcut, tool.modes, tool.size) == ("draw", "F2", ("add", "delete", "slice"), 2)
    assert tool.label and not tool.navigates


def test_right_press_cycles_add_delete_slice(blank_doc, drive):
    d = drive(DrawTool(), blank_doc)
    seen = [d.tool.mode]
    for _ in range(3):
        d.right()
        seen.append(d.tool.mode)
    assert seen == ["add", "delete", "slice", "add"]
    assert blank_doc.labels.is_empty


def test_add_circle_stroke_matches_reference_area(blank_doc, drive, geo):
    d = drive(DrawTool(), blank_doc, active_class=3)
    stroke = geo.circle(100, 100, 40)
    d.stroke(stroke)
    (c,) = blank_doc.labels.contours
    assert c.class_id == 3 and c.holes == ()
    ref = geo.polygon_mask(stroke)
    perimeter = 2 * np.pi * 40
    geo.close(c.area, np.pi * 40**2, perimeter)  # analytic
    geo.close(c.area, geo.opencv_area(ref), perimeter)  # scikit-image raster traced by OpenCV
    class_map = blank_doc.labels.to_class_map()
    assert np.count_nonzero((class_map == 3) != ref) <= perimeter
    geo.saved(blank_doc)


def test_release_commits_once_and_preview_follows_stroke(blank_doc, drive, geo):
    tool = DrawTool()
    d = drive(tool, blank_doc)
    pts = geo.rect(20, 20, 60, 60, step=5)
    d.press(*pts[0])
    for p in pts[1:]:
        d.move(*p)
    # Nothing is edited before release; the preview shows every point so far.
    assert blank_doc.labels.is_empty and not blank_doc.path.exists()
    prev = tool.preview()
    assert prev is not None and prev.closed
    np.testing.assert_allclose(prev.polyline, np.asarray(pts, dtype=float))
    d.release(*pts[0])
    assert tool.preview() is None
    assert len(blank_doc.labels) == 1
    d.tool.cancel()
    blank_doc.undo()
    assert blank_doc.labels.is_empty and not blank_doc.can_undo


def test_overlapping_same_class_strokes_merge(blank_doc, drive, geo):
    d = drive(DrawTool(), blank_doc)
    d.stroke(geo.rect(20, 20, 80, 80, step=4))
    d.stroke(geo.rect(60, 60, 120, 120, step=4))
    (c,) = blank_doc.labels.contours
    assert c.class_id == 1
    # Union of two 60x60 squares overlapping in a 20x20 square.
    geo.close(c.area, 2 * 3600 - 400, 8)
    union = geo.polygon_mask(geo.rect(20, 20, 80, 80)) | geo.polygon_mask(geo.rect(60, 60, 120, 120))
    geo.close(c.area, geo.opencv_area(union), 2 * 240)
    geo.saved(blank_doc)


def test_other_class_stroke_takes_pixels_from_first(blank_doc, drive, geo):
    d = drive(DrawTool(), blank_doc, active_class=1)
    d.stroke(geo.rect(20, 20, 80, 80, step=4))
    d.ctx.active_class = 2
    d.stroke(geo.rect(60, 20, 120, 80, step=4))
    by_class = {c.class_id: c for c in blank_doc.labels.contours}
    assert sorted(by_class) == [1, 2] and len(blank_doc.labels) == 2
    geo.close(by_class[2].area, 60 * 60, 2)
    geo.close(by_class[1].area, 40 * 60, 130)  # the shared column went to class 2
    cm = blank_doc.labels.to_class_map()
    assert np.all(cm[20:81, 60:121] == 2)
    assert np.all(cm[20:81, 20:59] == 1)
    geo.saved(blank_doc)


def test_delete_stroke_inside_makes_a_hole(blank_doc, drive, geo):
    d = drive(DrawTool(), blank_doc)
    d.stroke(geo.rect(40, 40, 160, 160, step=5))
    d.set_mode("delete")
    d.stroke(geo.circle(100, 100, 25))
    (c,) = blank_doc.labels.contours
    assert len(c.holes) == 1
    geo.close(c.area, 120 * 120 - np.pi * 25**2, 2 * np.pi * 25 + 4)
    cm = blank_doc.labels.to_class_map()
    assert cm[100, 100] == -1 and cm[50, 50] == 1
    geo.saved(blank_doc)


def test_delete_stroke_across_edge_trims_contour(labelled_doc, drive, geo):
    d = drive(DrawTool(), labelled_doc)
    d.set_mode("delete")
    before = {c.class_id: c.area for c in labelled_doc.labels.contours if c.class_id == 2}
    # Cut the left half (x <= 145) off the class-2 square spanning x 120..170, y 30..80.
    d.stroke(geo.rect(110, 20, 145, 90, step=5))
    squares = [c for c in labelled_doc.labels.contours if c.class_id == 2]
    assert len(squares) == 1 and len(labelled_doc.labels) == 3
    geo.close(squares[0].area, before[2] - 26 * 50, 60)
    geo.close(squares[0].area, 24 * 50, 60)
    geo.saved(labelled_doc)


def test_slice_splits_a_contour_in_two(blank_doc, drive, geo):
    d = drive(DrawTool(), blank_doc)
    d.stroke(geo.rect(50, 50, 150, 150, step=5))
    d.set_mode("slice")
    d.stroke(geo.line(100, 30, 100, 170))
    parts = sorted(blank_doc.labels.contours, key=lambda c: c.bbox[0])
    assert len(parts) == 2 and all(p.class_id == 1 for p in parts)
    assert parts[0].bbox[2] <= parts[1].bbox[0] - d.tool.size  # a gap at least the slice width
    for p in parts:
        geo.close(p.area, 50 * 100 - d.tool.size / 2 * 100, 150)
    geo.saved(blank_doc)


def test_slice_width_is_adjustable(blank_doc, drive, geo):
    tool = DrawTool()
    d = drive(tool, blank_doc)
    d.stroke(geo.rect(50, 50, 150, 150, step=5))
    full = blank_doc.labels.to_class_map() == 1
    assert tool.set_size(8) == 8
    d.set_mode("slice")
    d.stroke(geo.line(100, 30, 100, 170))
    cut = full & ~(blank_doc.labels.to_class_map() == 1)
    assert len(blank_doc.labels) == 2
    # An 8-pixel-wide vertical band across the 101-pixel-tall square was removed.
    geo.close(cut.sum(), 8 * 101, 2 * 101)
    assert tool.set_size(1000) == tool.max_size and tool.set_size(0) == tool.min_size


def test_slice_on_empty_background_changes_nothing(labelled_doc, drive, geo):
    d = drive(DrawTool(), labelled_doc)
    d.set_mode("slice")
    d.stroke(geo.line(5, 100, 30, 100))
    assert not labelled_doc.can_undo and len(labelled_doc.labels) == 3


@pytest.mark.parametrize("mode", ["add", "delete"])
def test_strokes_under_three_points_do_nothing(labelled_doc, drive, mode):
    d = drive(DrawTool(), labelled_doc)
    d.set_mode(mode)
    d.press(45, 45)
    d.release(55, 55)  # two points
    d.click(50, 50)  # one point
    assert not labelled_doc.can_undo


def test_slice_needs_two_points(labelled_doc, drive):
    d = drive(DrawTool(), labelled_doc)
    d.set_mode("slice")
    d.click(50, 50)
    assert not labelled_doc.can_undo
    d.press(50, 20)
    d.release(50, 80)
    assert labelled_doc.can_undo and len(labelled_doc.labels) == 4  # the disc cut in two


def test_cancel_drops_the_stroke(blank_doc, drive, geo):
    d = drive(DrawTool(), blank_doc)
    pts = geo.circle(100, 100, 30)
    d.press(*pts[0])
    for p in pts[1:]:
        d.move(*p)
    d.tool.cancel()
    assert d.tool.preview() is None
    d.release(*pts[-1])
    assert blank_doc.labels.is_empty


def test_right_press_during_stroke_keeps_mode(blank_doc, drive, geo):
    d = drive(DrawTool(), blank_doc)
    pts = geo.circle(100, 100, 30)
    d.press(*pts[0])
    for p in pts[1:]:
        d.move(*p)
    d.press(*pts[-1], button="right")
    d.release(*pts[-1], button="right")
    assert d.tool.mode == "add"
    d.release(*pts[-1])
    assert len(blank_doc.labels) == 1


def test_add_over_labelled_image_round_trips_through_file(labelled_doc, drive, geo):
    d = drive(DrawTool(), labelled_doc, active_class=2)
    # A class-2 stroke bridging the class-1 disc (centre 50,50) and nothing else.
    d.stroke(geo.circle(50, 50, 10))
    cm = labelled_doc.labels.to_class_map()
    assert cm[50, 50] == 2 and cm[50, 35] == 1
    disc = [c for c in labelled_doc.labels.contours if c.class_id == 1 and c.bbox[1] < 100]
    assert len(disc) == 1 and len(disc[0].holes) == 1
    reloaded = load_labels(labelled_doc.path)
    assert reloaded.same_as(labelled_doc.labels)
