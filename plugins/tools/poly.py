"""The polygon tool (F3): clicks place vertices, a right click closes the polygon."""

from __future__ import annotations

import numpy as np

from mia_core.api import PointerEvent, Preview, ToolContext
from mia_core.hooks import hookimpl
from mia_core.tool_base import (
    DEFAULT_SLICE_WIDTH, SHAPE_MODES, BaseTool, append_point, commit_shape, shape_preview,
)


class PolyTool(BaseTool):
    """Click-by-click polygons for straight edges; the same modes as the draw tool.

    A right click closes the polygon in progress and commits it in the current mode (slice uses
    the open polyline); only with no polygon in progress does a right click toggle the mode.
    """

    name = "poly"
    label = "Polygon (add / delete / slice)"
    shortcut = "F3"
    icon = "⬠"
    modes = SHAPE_MODES
    hints = {
        "add": "click the corners, right-click to close and add it",
        "delete": "click the corners of what to remove, right-click to close",
        "slice": "click along a cut line, right-click to cut the contours it crosses",
    }
    size = DEFAULT_SLICE_WIDTH
    min_size = 1
    max_size = 50
    size_name = "Slice width"
    size_modes = ("slice",)  # the width of the cut; adding and deleting fill the outline

    def __init__(self) -> None:
        super().__init__()
        self._points: list[tuple[float, float]] = []
        self._cursor: tuple[float, float] | None = None

    @property
    def in_progress(self) -> bool:
        """True while a polygon has at least one vertex."""
        return bool(self._points)

    def press(self, ctx: ToolContext, event: PointerEvent) -> None:
        """Left adds a vertex; right closes the polygon, or toggles the mode when there is none."""
        if event.button == "left":
            append_point(self._points, event)
            self._cursor = (float(event.x), float(event.y))
        elif event.button == "right":
            if self._points:
                points, self._points = self._points, []
                commit_shape(ctx, points, self.mode, self.size, "Polygon")
            else:
                self.toggle_mode()

    def move(self, ctx: ToolContext, event: PointerEvent) -> None:
        """Follow the cursor so the preview shows the next edge."""
        self._cursor = (float(event.x), float(event.y))

    def preview(self) -> Preview | None:
        """The vertices so far plus the cursor: the filled area before closing, or the cut."""
        if not self._points:
            return None
        points = list(self._points)
        if self._cursor is not None and self._cursor != points[-1]:
            points.append(self._cursor)
        return shape_preview(np.asarray(points, dtype=np.float64), self.mode, self.size)

    def cancel(self) -> None:
        """Drop the polygon in progress."""
        self._points = []


@hookimpl
def mia_tools() -> list[BaseTool]:
    """Register the polygon tool."""
    return [PolyTool()]
