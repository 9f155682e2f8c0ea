"""The delete tool (F6): a click removes the contour under the pointer."""

from __future__ import annotations

from mia_core.api import PointerEvent, ToolContext
from mia_core.hooks import hookimpl
from mia_core.tool_base import BaseTool


class DeleteTool(BaseTool):
    """Remove a whole contour with one click."""

    name = "delete"
    label = "Delete contour"
    shortcut = "F6"
    icon = "✖"
    modes = ("delete",)
    hints = {"delete": "click a contour to delete it"}

    def press(self, ctx: ToolContext, event: PointerEvent) -> None:
        """Left click deletes the contour under the point."""
        if event.button == "left" and not ctx.document.delete_at(event.x, event.y):
            ctx.message("Delete: nothing deleted: no contour under the pointer")


@hookimpl
def mia_tools() -> list[BaseTool]:
    """Register the delete tool."""
    return [DeleteTool()]
