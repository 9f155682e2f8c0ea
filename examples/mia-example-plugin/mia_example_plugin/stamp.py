"""The stamp tool: a left click adds (or removes) a square of ``size`` pixels centred on the click."""

from __future__ import annotations

import math

import numpy as np

from mia_core.api import PointerEvent, Preview, ToolContext
from mia_core.tool_base import BaseTool


def square(x: float, y: float, size: int) -> np.ndarray:
    """Corner pixel centres (x, y) of the ``size`` x ``size`` pixel square centred on (x, y)."""
    x0 = math.floor(x + 0.5) - size // 2
    y0 = math.floor(y + 0.5) - size // 2
    x1, y1 = x0 + size - 1, y0 + size - 1
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


class StampTool(BaseTool):
    """Click to stamp a square of the active class; right click toggles add/remove."""

    name = "stamp"
    label = "Stamp a square (example plugin)"
    shortcut = None
    icon = "▣"
    modes = ("add", "remove")
    size = 9
    min_size = 1
    max_size = 200

    def __init__(self) -> None:
        super().__init__()
        self._pressed = False
        self._cursor: tuple[float, float] | None = None

    def press(self, ctx: ToolContext, event: PointerEvent) -> None:
        """Left press arms the stamp; right press toggles the mode (BaseTool)."""
        super().press(ctx, event)
        self._pressed = event.button == "left"
        self._cursor = (event.x, event.y)

    def move(self, ctx: ToolContext, event: PointerEvent) -> None:
        """Follow the pointer so the preview shows where the square will land."""
        self._cursor = (event.x, event.y)

    def release(self, ctx: ToolContext, event: PointerEvent) -> None:
        """Stamp at the release position when the left button was pressed with this tool."""
        if not self._pressed or event.button != "left":
            return
        self._pressed = False
        points = square(event.x, event.y, self.size)
        if self.mode == "add":
            ctx.document.add_polygon(points, ctx.active_class)
        else:
            ctx.document.subtract_polygon(points)

    def preview(self) -> Preview | None:
        """The outline of the square under the pointer."""
        if self._cursor is None:
            return None
        return Preview(polyline=square(*self._cursor, self.size), closed=True)

    def cancel(self) -> None:
        """Forget a pressed button (Escape, tool switch)."""
        self._pressed = False
