"""The freehand draw tool (F2): a stroke adds a region, deletes one, or slices contours apart."""

from __future__ import annotations

import numpy as np

from mia_core.api import PointerEvent, Preview, ToolContext
from mia_core.hooks import hookimpl
from mia_core.tool_base import (
    DEFAULT_SLICE_WIDTH, SHAPE_MODES, BaseTool, append_point, commit_shape, shape_preview,
)


class DrawTool(BaseTool):
    """Freehand strokes: press starts, moves extend, release commits in the current mode."""

    name = "draw"
    label = "Draw (add / delete / slice)"
    shortcut = "F2"
    icon = "✏"
    modes = SHAPE_MODES
    hints = {
        "add": "draw around a region and release to add it in the active class",
        "delete": "draw around what to remove and release",
        "slice": "draw a line across contours to cut them apart",
    }
    size = DEFAULT_SLICE_WIDTH
    min_size = 1
    max_size = 50
    size_name = "Slice width"
    size_modes = ("slice",)  # the width of the cut; adding and deleting fill the outline

    def __init__(self) -> None:
        super().__init__()
        self._stroke: list[tuple[float, float]] | None = None

    def press(self, ctx: ToolContext, event: PointerEvent) -> None:
        """Left starts a stroke; right toggles add / delete / slice."""
        if event.button == "left":
            self._stroke = []
            append_point(self._stroke, event)
        elif event.button == "right" and self._stroke is None:
            self.toggle_mode()

    def move(self, ctx: ToolContext, event: PointerEvent) -> None:
        """Extend the stroke in progress."""
        if self._stroke is not None:
            append_point(self._stroke, event)

    def release(self, ctx: ToolContext, event: PointerEvent) -> None:
        """Finish the stroke and apply it to the document as one edit."""
        if self._stroke is None or event.button not in ("left", "none"):
            return
        stroke, self._stroke = self._stroke, None
        append_point(stroke, event)
        commit_shape(ctx, stroke, self.mode, self.size, "Draw")

    def preview(self) -> Preview | None:
        """The stroke so far: the area it encloses (add / delete), or the cut as wide as the slice."""
        if not self._stroke:
            return None
        return shape_preview(np.asarray(self._stroke, dtype=np.float64), self.mode, self.size)

    @property
    def in_progress(self) -> bool:
        """True while a stroke is under way (Escape drops it first)."""
        return self._stroke is not None

    def cancel(self) -> None:
        """Drop the stroke in progress."""
        self._stroke = None


@hookimpl
def mia_tools() -> list[BaseTool]:
    """Register the freehand draw tool."""
    return [DrawTool()]
