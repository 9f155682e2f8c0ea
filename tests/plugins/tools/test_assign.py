"""The assign tool: a click gives the contour under it the active class."""

from __future__ import annotations

import numpy as np

import mia_plugins.tools.assign as assign_module
from mia_plugins.tools.assign import AssignTool


def test_registers_one_tool_with_f4(register):
    (tool,) = register(assign_module)
    assert isinstance(tool, AssignTool)
    assert (tool.name, tool.shortcut) == ("assign", "F4") and tool.label


def test_click_changes_class_of_that_contour_only(labelled_doc, drive, geo):
    before = labelled_doc.labels
    d = drive(AssignTool(), labelled_doc, active_class=4)
    d.click(50.3, 49.6)  # inside the class-1 disc
    after = labelled_doc.labels
    assert len(after) == 3
    cm_before, cm_after = before.to_class_map(), after.to_class_map()
    changed = cm_before != cm_after
    disc = geo.class_map() == 1
    disc[100:] = False  # the disc only, not the class-1 ring below
    assert np.array_equal(changed, disc)
    assert np.all(cm_after[disc] == 4)
    disc_contour = [c for c in after.contours if c.class_id == 4]
    assert len(disc_contour) == 1
    geo.close(disc_contour[0].area, np.pi * 20**2, 2 * np.pi * 20)
    geo.saved(labelled_doc)


def test_assign_keeps_holes(labelled_doc, drive, geo):
    d = drive(AssignTool(), labelled_doc, active_class=0)
    ring = [c for c in labelled_doc.labels.contours if c.holes][0]
    d.click(45, 130)  # on the ring, not in its hole
    (new,) = [c for c in labelled_doc.labels.contours if c.class_id == 0]
    assert len(new.holes) == 1
    geo.close(new.area, ring.area, 0.5)
    geo.saved(labelled_doc)


def test_click_on_background_or_hole_does_nothing(labelled_doc, drive):
    d = drive(AssignTool(), labelled_doc, active_class=3)
    d.click(5, 5)
    d.click(70, 150)  # inside the ring's hole
    assert not labelled_doc.can_undo


def test_same_class_or_right_click_does_nothing(labelled_doc, drive):
    d = drive(AssignTool(), labelled_doc, active_class=2)
    d.click(145, 55)  # already class 2
    d.click(50, 50, button="right")
    assert not labelled_doc.can_undo


def test_assign_then_undo_restores(labelled_doc, drive):
    before = labelled_doc.labels
    d = drive(AssignTool(), labelled_doc, active_class=2)
    d.click(50, 50)
    assert not labelled_doc.labels.same_as(before)
    labelled_doc.undo()
    assert labelled_doc.labels.same_as(before)
