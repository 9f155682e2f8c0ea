"""The drag tool (F1): the viewer pans and zooms while it is active; it never edits labels."""

from __future__ import annotations

from mia_core.hooks import hookimpl
from mia_core.tool_base import BaseTool


class DragTool(BaseTool):
    """Navigation only, so the user can move around without touching the labels."""

    name = "drag"
    label = "Drag / zoom"
    shortcut = "F1"
    icon = "✥"
    modes = ("navigate",)
    navigates = True
    hints = {"navigate": "drag to pan, wheel to zoom; Space goes back to the last tool"}


@hookimpl
def mia_tools() -> list[BaseTool]:
    """Register the drag tool."""
    return [DragTool()]
