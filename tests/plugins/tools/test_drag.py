"""The drag tool navigates and never edits."""

from __future__ import annotations

import mia_plugins.tools.drag as drag_module
from mia_plugins.tools.drag import DragTool


def test_registers_one_navigating_tool_with_f1(register):
    (tool,) = register(drag_module)
    assert isinstance(tool, DragTool)
    assert (tool.name, tool.shortcut, tool.navigates) == ("drag", "F1", True)
    assert tool.label


def test_events_never_edit(labelled_doc, drive, geo):
    before = labelled_doc.labels
    stamp = labelled_doc.path.stat().st_mtime_ns
    d = drive(DragTool(), labelled_doc)
    d.stroke(geo.circle(50, 50, 30))
    d.click(150, 60)
    d.right(50, 50)
    assert d.wheel(1) is False  # the viewer zooms instead
    assert d.tool.preview() is None
    assert labelled_doc.labels is before and not labelled_doc.can_undo
    assert labelled_doc.path.stat().st_mtime_ns == stamp
