"""The polygon tool: click-by-click vertices, right click closes, toggles only when idle."""

from __future__ import annotations

import numpy as np

import mia_plugins.tools.poly as poly_module
from mia_plugins.tools.poly import PolyTool


def test_registers_one_tool_with_f3(register):
    (tool,) = register(poly_module)
    assert isinstance(tool, PolyTool)
    assert (tool.name, tool.shortcut, tool.modes) == ("poly", "F3", ("add", "delete", "slice"))
    assert tool.label and tool.size == 2


def test_square_from_clicks_closes_on_right_without_toggling(blank_doc, drive, geo):
    d = drive(PolyTool(), blank_doc, active_class=2)
    corners = geo.rect(50, 60, 150, 120)
    d.clicks(corners)
    assert blank_doc.labels.is_empty  # nothing until closed
    d.right(150, 120)
    assert d.tool.mode == "add"  # closing does not toggle
    (c,) = blank_doc.labels.contours
    assert c.class_id == 2
    geo.close(c.area, 100 * 60, 1)  # straight edges: exact up to rounding
    assert np.count_nonzero((blank_doc.labels.to_class_map() == 2) != geo.polygon_mask(corners)) <= 2 * 160 + 4
    geo.saved(blank_doc)


def test_triangle_area_matches_shoelace(blank_doc, drive, geo):
    d = drive(PolyTool(), blank_doc)
    tri = [(20.0, 20.0), (180.0, 40.0), (60.0, 170.0)]
    d.clicks(tri)
    d.right()
    (c,) = blank_doc.labels.contours
    x, y = np.asarray(tri).T
    shoelace = 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))
    perimeter = sum(np.hypot(*np.subtract(a, b)) for a, b in zip(tri, tri[1:] + tri[:1]))
    geo.close(c.area, shoelace, perimeter / 2)
    geo.close(c.area, geo.opencv_area(geo.polygon_mask(tri)), perimeter)


def test_right_click_toggles_only_with_no_polygon(blank_doc, drive):
    d = drive(PolyTool(), blank_doc)
    d.right()
    assert d.tool.mode == "delete"
    d.right()
    assert d.tool.mode == "slice"
    d.right()
    assert d.tool.mode == "add"
    d.clicks([(10, 10)])
    assert d.tool.in_progress
    d.right()  # ends the (too short) polygon instead of toggling
    assert d.tool.mode == "add" and not d.tool.in_progress
    assert blank_doc.labels.is_empty
    d.right()  # now idle: toggles
    assert d.tool.mode == "delete"


def test_two_points_in_add_mode_do_nothing(labelled_doc, drive):
    d = drive(PolyTool(), labelled_doc)
    d.clicks([(10, 10), (190, 10)])
    d.right()
    assert not labelled_doc.can_undo and d.tool.mode == "add"


def test_preview_shows_points_and_cursor(blank_doc, drive):
    tool = PolyTool()
    d = drive(tool, blank_doc)
    assert tool.preview() is None
    d.clicks([(10, 10), (50, 10)])
    d.move(70, 40, button="none")
    prev = tool.preview()
    np.testing.assert_allclose(prev.polyline, [[10, 10], [50, 10], [70, 40]])
    assert prev.closed
    tool.cancel()
    assert tool.preview() is None and not tool.in_progress
    d.right()
    assert blank_doc.labels.is_empty and tool.mode == "delete"


def test_delete_polygon_cuts_a_hole_in_labelled_contour(labelled_doc, drive, geo):
    d = drive(PolyTool(), labelled_doc)
    d.set_mode("delete")
    square = [c for c in labelled_doc.labels.contours if c.class_id == 2][0]
    d.clicks(geo.rect(135, 45, 155, 65))
    d.right()
    after = [c for c in labelled_doc.labels.contours if c.class_id == 2]
    assert len(after) == 1 and len(after[0].holes) == 1
    assert d.tool.mode == "delete"
    # The hole's traced boundary lies one pixel outside the cut square: (20 + 2)^2.
    geo.close(after[0].area, square.area - 22 * 22, 2)
    geo.saved(labelled_doc)


def test_slice_uses_the_open_polyline(blank_doc, drive, geo):
    d = drive(PolyTool(), blank_doc)
    d.clicks(geo.rect(40, 40, 160, 160))
    d.right()
    d.set_mode("slice")
    prev_count = len(blank_doc.labels)
    # An L-shaped open polyline through the square; closing it would make a triangle.
    d.clicks([(30, 100), (100, 100), (100, 30)])
    d.right()
    assert prev_count == 1 and len(blank_doc.labels) == 2
    areas = sorted(c.area for c in blank_doc.labels.contours)
    geo.close(areas[0], 60 * 60, 2 * 60 * 2)  # the top-left corner piece
    geo.close(areas[1], 120 * 120 - 60 * 60, 2 * 120 * 2)
    geo.saved(blank_doc)


def test_slice_with_two_points_splits(labelled_doc, drive):
    d = drive(PolyTool(), labelled_doc)
    d.set_mode("slice")
    d.clicks([(50, 20), (50, 80)])
    d.right()
    discs = [c for c in labelled_doc.labels.contours if c.class_id == 1 and c.bbox[3] < 100]
    assert len(discs) == 2 and len(labelled_doc.labels) == 4
    assert all(c.bbox[2] <= 50 or c.bbox[0] > 50 for c in discs)


def test_slice_with_one_point_does_nothing(labelled_doc, drive):
    d = drive(PolyTool(), labelled_doc)
    d.set_mode("slice")
    d.clicks([(50, 50)])
    d.right()
    assert not labelled_doc.can_undo and d.tool.mode == "slice"


def test_polygon_on_labelled_image_merges_with_its_class_and_takes_from_others(labelled_doc, drive, geo):
    expected = labelled_doc.labels.to_class_map()
    d = drive(PolyTool(), labelled_doc, active_class=1)
    # A bar from the class-1 disc (centre 50, 50) across the class-2 square (x 120-170, y 30-80).
    bar = [(50, 45), (140, 45), (140, 55), (50, 55)]
    d.clicks(bar)
    d.right()
    cm = labelled_doc.labels.to_class_map()
    expected[geo.polygon_mask(bar)] = 1
    assert np.count_nonzero(cm != expected) <= 2 * (90 + 10) + 4  # the bar's boundary pixels at most
    ones = [c for c in labelled_doc.labels.contours if c.class_id == 1]
    assert len(ones) == 2  # disc and bar merged; the ring stays apart
    (square,) = [c for c in labelled_doc.labels.contours if c.class_id == 2]
    assert square.pixel_count == 51 * 51 - np.count_nonzero(geo.polygon_mask(bar)[30:81, 120:171])
    geo.saved(labelled_doc)
