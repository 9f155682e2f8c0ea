"""The assign tool (F4): a click gives the contour under the pointer the active class."""

from __future__ import annotations

from mia_core.api import PointerEvent, ToolContext
from mia_core.hooks import hookimpl
from mia_core.tool_base import BaseTool


class AssignTool(BaseTool):
    """Relabel a whole contour with one click instead of redrawing it."""

    name = "assign"
    label = "Assign class"
    shortcut = "F4"
    icon = "⚑"
    modes = ("assign",)
    hints = {"assign": "click a contour to give it the active class"}

    def press(self, ctx: ToolContext, event: PointerEvent) -> None:
        """Left click assigns the active class to the contour under the point."""
        if event.button == "left" and not ctx.document.assign_class(event.x, event.y, ctx.active_class):
            ctx.message("Assign: nothing changed: no contour here, or it already has the active class")


@hookimpl
def mia_tools() -> list[BaseTool]:
    """Register the assign tool."""
    return [AssignTool()]
