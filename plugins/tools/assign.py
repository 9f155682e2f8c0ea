"""The assign tool (F4): a click gives the contour under the pointer the active class, or (right
click switches the mode) the object number chosen in the Postprocessing window, to merge or split
tracks by hand."""

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
    modes = ("assign", "object number")
    hints = {
        "assign": "click a contour to give it the active class",
        "object number": "click a contour to give it the object number chosen in Edit > Postprocessing",
    }

    def press(self, ctx: ToolContext, event: PointerEvent) -> None:
        """Left click assigns the active class (or the object number) to the contour under the point."""
        if event.button == "right":
            self.toggle_mode()
        elif event.button == "left" and self.mode == "object number":
            number = int(ctx.settings.get("object_number", 0))
            if number <= 0:
                ctx.message("Choose an object number in Edit > Postprocessing… first")
            elif not ctx.document.assign_object(event.x, event.y, number):
                ctx.message("Assign: nothing changed: no contour here, or it already has that number")
        elif event.button == "left" and not ctx.document.assign_class(event.x, event.y, ctx.active_class):
            ctx.message("Assign: nothing changed: no contour here, or it already has the active class")


@hookimpl
def mia_tools() -> list[BaseTool]:
    """Register the assign tool."""
    return [AssignTool()]
