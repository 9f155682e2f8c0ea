"""A base class that gives a labelling tool the behaviour every tool shares, and the stroke
helpers several tools use (plugins never import each other, so shared pieces live here)."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from mia_core.api import PointerEvent, Preview, ToolContext

#: The modes shared by the freehand and polygon tools, in right-click order.
SHAPE_MODES: tuple[str, ...] = ("add", "delete", "slice")
#: Default slice width in pixels.
DEFAULT_SLICE_WIDTH = 2
#: A wheel notch scales a size by this factor (and changes it by at least one pixel).
WHEEL_FACTOR = 1.1


def wheel_size(size: int, notches: int) -> int:
    """The size after ``notches`` wheel notches: about 10 % per notch, at least 1 px per notch."""
    if not notches:
        return int(size)
    target = int(round(size * WHEEL_FACTOR ** max(min(notches, 200), -200)))
    if abs(target - size) < abs(notches):
        target = int(size) + int(notches)
    return target


def append_point(points: list[tuple[float, float]], event: PointerEvent) -> None:
    """Add the event's position unless it repeats the last point, so strokes hold no duplicates."""
    point = (float(event.x), float(event.y))
    if not points or points[-1] != point:
        points.append(point)


def commit_shape(
    ctx: ToolContext, points: Sequence[tuple[float, float]], mode: str, width: int
) -> bool:
    """Apply a finished stroke or polygon in ``mode``; too few points do nothing (returns False)."""
    if mode == "slice":
        if len(points) < 2:
            return False
        return bool(ctx.document.slice(np.asarray(points, dtype=np.float64), width))
    if len(points) < 3:
        return False
    polygon = np.asarray(points, dtype=np.float64)
    if mode == "add":
        return bool(ctx.document.add_polygon(polygon, ctx.active_class))
    if mode == "delete":
        return bool(ctx.document.subtract_polygon(polygon))
    raise ValueError(f"unknown shape mode {mode!r}; expected one of {', '.join(SHAPE_MODES)}")


def shape_preview(points: np.ndarray, mode: str, width: int) -> Preview:
    """What a stroke or polygon in ``mode`` will do: the area it adds or deletes, or the slice's cut."""
    if mode == "slice":
        return Preview(polyline=points, closed=False, width=float(width), erase=True)
    return Preview(polyline=points, closed=True, filled=True, erase=mode == "delete")



class BaseTool:
    """Default :class:`mia_core.api.Tool`: modes toggled by a right click, no wheel, no preview.

    Subclasses set the class attributes and override ``press``/``move``/``release``; they edit
    ``ctx.document`` and keep their in-progress state (a stroke, a polygon) on the instance.
    """

    name: str = ""
    label: str = ""
    shortcut: str | None = None
    icon: str | None = None
    modes: tuple[str, ...] = ("default",)
    navigates: bool = False
    size: int = 0
    min_size: int = 1
    max_size: int = 200
    #: What the size is, for the size control ("Radius", "Slice width").
    size_name: str = "Size"
    #: The modes in which the size matters (None: all); in the others the size control is hidden.
    size_modes: tuple[str, ...] | None = None

    def __init__(self) -> None:
        self.mode: str = self.modes[0]

    def toggle_mode(self) -> str:
        """Switch to the next mode (right click), wrapping around, and return it."""
        self.mode = self.modes[(self.modes.index(self.mode) + 1) % len(self.modes)]
        return self.mode

    def set_size(self, size: int) -> int:
        """Set the brush size, clamped to the tool's range, and return it."""
        self.size = int(min(max(size, self.min_size), self.max_size))
        return self.size

    def uses_size(self) -> bool:
        """True when the size means something in the current mode (the app shows the size control)."""
        return self.size > 0 and (self.size_modes is None or self.mode in self.size_modes)

    def press(self, ctx: ToolContext, event: PointerEvent) -> None:
        """A right press toggles the mode; subclasses handle the left button."""
        if event.button == "right":
            self.toggle_mode()

    def move(self, ctx: ToolContext, event: PointerEvent) -> None:
        """Pointer moved (with or without a button held)."""

    def release(self, ctx: ToolContext, event: PointerEvent) -> None:
        """Button released: tools that draw commit their edit here."""

    def wheel(self, ctx: ToolContext, event: PointerEvent) -> bool:
        """Return True when the tool used the wheel event (so the viewer does not zoom)."""
        return False

    def preview(self) -> Preview | None:
        """What to draw while the tool is in progress."""
        return None

    def cancel(self) -> None:
        """Drop any edit in progress (Escape, tool switch, image change)."""
