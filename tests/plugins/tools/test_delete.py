"""The delete tool: a click removes exactly the contour under it."""

from __future__ import annotations

import mia_plugins.tools.delete as delete_module
from mia_core.label_store import load_labels
from mia_plugins.tools.delete import DeleteTool
from mia_plugins.tools.draw import DrawTool


def test_registers_one_tool_with_f6(register):
    (tool,) = register(delete_module)
    assert isinstance(tool, DeleteTool)
    assert (tool.name, tool.shortcut) == ("delete", "F6") and tool.label


def test_click_removes_exactly_one_contour(labelled_doc, drive, geo):
    before = labelled_doc.labels.contours
    d = drive(DeleteTool(), labelled_doc)
    d.click(150, 60)  # the class-2 square
    after = labelled_doc.labels.contours
    assert len(after) == len(before) - 1
    assert [c.class_id for c in after] == [c.class_id for c in before if c.class_id != 2]
    kept = [c for c in before if c.class_id != 2]
    assert all(a.same_as(b) for a, b in zip(after, kept))
    geo.saved(labelled_doc)


def test_clicks_outside_or_in_a_hole_delete_nothing(labelled_doc, drive):
    d = drive(DeleteTool(), labelled_doc)
    d.click(5, 195)
    d.click(70, 150)  # the ring's hole
    d.click(50, 50, button="right")
    assert not labelled_doc.can_undo and len(labelled_doc.labels) == 3


def test_deleting_every_contour_removes_the_file(labelled_doc, drive):
    d = drive(DeleteTool(), labelled_doc)
    for x, y in [(50, 50), (150, 60), (45, 130)]:
        d.click(x, y)
    assert labelled_doc.labels.is_empty
    assert not labelled_doc.path.exists()
    assert load_labels(labelled_doc.path).is_empty


def test_delete_one_of_two_drawn_contours(blank_doc, drive, geo):
    draw = drive(DrawTool(), blank_doc)
    draw.stroke(geo.circle(50, 50, 20))
    draw.stroke(geo.circle(140, 140, 30))
    big = max(blank_doc.labels.contours, key=lambda c: c.area)
    drive(DeleteTool(), blank_doc).click(50, 50)
    (left,) = blank_doc.labels.contours
    assert left.same_as(big)
    geo.saved(blank_doc)
