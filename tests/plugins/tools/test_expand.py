"""The brush tool: expand / erase strokes committed as one edit, resized with the wheel."""

from __future__ import annotations

import numpy as np

import mia_plugins.tools.expand as expand_module
from mia_plugins.tools.expand import ExpandTool


def test_registers_one_tool_with_f5(register):
    (tool,) = register(expand_module)
    assert isinstance(tool, ExpandTool)
    assert (tool.name, tool.shortcut, tool.modes, tool.size) == ("expand", "F5", ("expand", "erase"), 10)
    assert tool.label


def test_brush_stroke_paints_a_stadium(blank_doc, drive, geo):
    d = drive(ExpandTool(), blank_doc, active_class=2)
    path = geo.line(50, 100, 150, 100)
    d.stroke(path)
    (c,) = blank_doc.labels.contours
    assert c.class_id == 2 and c.holes == ()
    r = 10
    perimeter = 2 * 100 + 2 * np.pi * r
    geo.close(c.area, 2 * r * 100 + np.pi * r**2, perimeter / 2)  # analytic stadium
    ref = geo.brush_mask(path, r)
    assert np.count_nonzero((blank_doc.labels.to_class_map() == 2) != ref) <= perimeter
    geo.saved(blank_doc)


def test_stroke_is_one_undo_step(labelled_doc, drive, geo):
    before = labelled_doc.labels
    d = drive(ExpandTool(), labelled_doc)
    d.stroke(geo.circle(100, 100, 60, n=40) + [(100, 100), (20, 190)])
    assert not labelled_doc.labels.same_as(before)
    assert labelled_doc.undo()
    assert labelled_doc.labels.same_as(before) and not labelled_doc.can_undo
    geo.saved(labelled_doc)
    assert np.array_equal(labelled_doc.labels.to_class_map(), geo.class_map())


def test_undo_on_blank_image_removes_the_file(blank_doc, drive, geo):
    d = drive(ExpandTool(), blank_doc)
    d.stroke(geo.line(20, 20, 180, 180))
    assert blank_doc.path.exists()
    blank_doc.undo()
    assert blank_doc.labels.is_empty and not blank_doc.path.exists() and not blank_doc.can_undo


def test_preview_circle_follows_cursor_and_nothing_is_edited_before_release(blank_doc, drive):
    tool = ExpandTool()
    d = drive(tool, blank_doc)
    assert tool.preview() is None
    d.move(30, 40, button="none")
    prev = tool.preview()
    assert prev.circle == (30.0, 40.0, 10.0) and prev.polyline is None
    d.press(30, 40)
    d.move(60, 40)
    d.move(90, 45)
    prev = tool.preview()
    assert prev.circle == (90.0, 45.0, 10.0)
    np.testing.assert_allclose(prev.polyline, [[30, 40], [60, 40], [90, 45]])
    assert blank_doc.labels.is_empty and not blank_doc.path.exists()
    d.release(90, 45)
    assert len(blank_doc.labels) == 1 and tool.preview().polyline is None


def test_expand_merges_with_touching_same_class_contour(labelled_doc, drive, geo):
    d = drive(ExpandTool(), labelled_doc, active_class=1)
    # From inside the class-1 disc (centre 50,50 r 20) outwards to the right.
    d.stroke(geo.line(50, 50, 90, 50))
    discs = [c for c in labelled_doc.labels.contours if c.class_id == 1 and c.bbox[3] < 110]
    assert len(discs) == 1 and len(labelled_doc.labels) == 3
    union = (geo.class_map() == 1) | geo.brush_mask(geo.line(50, 50, 90, 50), 10)
    union[110:] = False
    geo.close(discs[0].area, geo.opencv_area(union), 2 * (2 * np.pi * 20 + 80))
    differ = (labelled_doc.labels.to_class_map()[:110] == 1) != union[:110]
    assert np.count_nonzero(differ) <= 2 * 80 + 2 * np.pi * 10  # brush edge pixels at most


def test_erase_inside_makes_a_hole(blank_doc, drive, geo):
    d = drive(ExpandTool(), blank_doc)
    d.tool.set_size(40)
    d.click(100, 100)
    full = blank_doc.labels.contours[0]
    d.tool.set_size(8)
    d.right()
    assert d.tool.mode == "erase"
    d.click(100, 100)
    (c,) = blank_doc.labels.contours
    assert len(c.holes) == 1
    geo.close(c.area, full.area - np.pi * 9**2, 2 * np.pi * 9)
    assert blank_doc.labels.to_class_map()[100, 100] == -1
    geo.saved(blank_doc)


def test_erase_across_splits_in_two(labelled_doc, drive, geo):
    d = drive(ExpandTool(), labelled_doc)
    d.set_mode("erase")
    d.tool.set_size(3)
    d.stroke(geo.line(145, 20, 145, 90))  # through the class-2 square, x 120..170
    halves = [c for c in labelled_doc.labels.contours if c.class_id == 2]
    assert len(halves) == 2
    cut = (geo.class_map() == 2) & (labelled_doc.labels.to_class_map() != 2)
    geo.close(cut.sum(), 7 * 51, 51)  # a 2r+1 wide band over the 51-pixel square
    geo.saved(labelled_doc)


def test_erase_on_background_does_nothing(labelled_doc, drive, geo):
    d = drive(ExpandTool(), labelled_doc)
    d.set_mode("erase")
    d.stroke(geo.line(10, 100, 25, 100))
    assert not labelled_doc.can_undo


def test_wheel_changes_size_and_is_clamped(blank_doc, drive, geo):
    tool = ExpandTool()
    d = drive(tool, blank_doc)
    assert d.wheel(1) is True and tool.size == 11
    assert d.wheel(-3) is True and tool.size == 8
    assert d.wheel(-100) is True and tool.size == tool.min_size
    assert d.wheel(10_000) is True and tool.size == tool.max_size
    assert d.wheel(0) is False
    assert tool.preview().circle == (100.0, 100.0, float(tool.max_size))  # shown at once
    tool.set_size(5)
    d.stroke(geo.line(50, 100, 150, 100))
    (c,) = blank_doc.labels.contours
    geo.close(c.area, 2 * 5 * 100 + np.pi * 25, 100)  # the wheel's size is the brush radius


def test_cancel_drops_the_stroke(blank_doc, drive, geo):
    d = drive(ExpandTool(), blank_doc)
    d.press(50, 50)
    d.move(100, 100)
    d.tool.cancel()
    d.release(100, 100)
    assert blank_doc.labels.is_empty
