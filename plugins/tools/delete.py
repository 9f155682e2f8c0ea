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

    def press(self, ctx: ToolContext, event: PointerEvent) -> None:
        """Left click deletes the contour under the point."""
        if event.button == "left":
            ctx.document.delete_at(event.x, event.y)


@hookimpl
def mia_tools() -> list[BaseTool]:
    """Register the delete tool."""
    return [DeleteTool()]
