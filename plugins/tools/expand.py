"""The expand tool (F5): a round brush that grows the active class or erases labels."""

from __future__ import annotations

import numpy as np

from mia_core.api import PointerEvent, Preview, ToolContext
from mia_core.hooks import hookimpl
from mia_core.tool_base import BaseTool, append_point, wheel_size

#: Default brush radius in pixels.
DEFAULT_RADIUS = 10


class ExpandTool(BaseTool):
    """Brush strokes committed on release as one edit, so one undo removes the whole stroke."""

    name = "expand"
    label = "Brush (expand / erase)"
    shortcut = "F5"
    icon = "◉"
    modes = ("expand", "erase")
    hints = {
        "expand": "paint to grow the active class; the wheel sizes the brush",
        "erase": "paint to erase labels; the wheel sizes the brush",
    }
    size = DEFAULT_RADIUS
    min_size = 1
    max_size = 200
    size_name = "Radius"

    def __init__(self) -> None:
        super().__init__()
        self._path: list[tuple[float, float]] | None = None
        self._cursor: tuple[float, float] | None = None

    def press(self, ctx: ToolContext, event: PointerEvent) -> None:
        """Left starts painting; right toggles expand / erase."""
        self._cursor = (float(event.x), float(event.y))
        if event.button == "left":
            self._path = []
            append_point(self._path, event)
        elif event.button == "right" and self._path is None:
            self.toggle_mode()

    def move(self, ctx: ToolContext, event: PointerEvent) -> None:
        """Move the brush cursor and extend the path while painting."""
        self._cursor = (float(event.x), float(event.y))
        if self._path is not None:
            append_point(self._path, event)

    def release(self, ctx: ToolContext, event: PointerEvent) -> None:
        """Apply the painted path to the document as a single edit."""
        if self._path is None or event.button not in ("left", "none"):
            return
        self._cursor = (float(event.x), float(event.y))
        path, self._path = self._path, None
        append_point(path, event)
        changed = ctx.document.brush(
            np.asarray(path, dtype=np.float64),
            self.size,
            ctx.active_class,
            erase=self.mode == "erase",
        )
        if not changed:
            ctx.message("Brush: nothing erased: no label under the brush" if self.mode == "erase"
                        else "Brush: nothing added: the area already has the active class")

    def wheel(self, ctx: ToolContext, event: PointerEvent) -> bool:
        """The wheel resizes the brush in proportion (about 10 % a notch, clamped) instead of zooming."""
        if not event.wheel_delta:
            return False
        self._cursor = (float(event.x), float(event.y))
        self.set_size(wheel_size(self.size, int(event.wheel_delta)))
        return True

    def preview(self) -> Preview | None:
        """The brush circle at the cursor and the swath painted so far, as wide as the brush."""
        if self._cursor is None:
            return None
        polyline = np.asarray(self._path, dtype=np.float64) if self._path else None
        return Preview(polyline=polyline, closed=False, circle=(*self._cursor, float(self.size)),
                       width=2.0 * self.size, erase=self.mode == "erase")

    @property
    def in_progress(self) -> bool:
        """True while a stroke is under way (Escape drops it first)."""
        return self._path is not None

    def cancel(self) -> None:
        """Drop the stroke in progress (nothing has been painted into the document yet)."""
        self._path = None


@hookimpl
def mia_tools() -> list[BaseTool]:
    """Register the brush tool."""
    return [ExpandTool()]
