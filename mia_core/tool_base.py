"""A base class that gives a labelling tool the behaviour every tool shares, and the stroke
helpers several tools use (plugins never import each other, so shared pieces live here)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping, Sequence

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


#: What the user is told when a finished stroke or polygon changed nothing, by mode.
NOTHING_CHANGED = {
    "add": "nothing added: the area already has the active class",
    "delete": "nothing deleted: no contour under the stroke",
    "slice": "nothing sliced: the line crosses no contour",
}


def commit_shape(
    ctx: ToolContext, points: Sequence[tuple[float, float]], mode: str, width: int, what: str = "Stroke"
) -> bool:
    """Apply a finished stroke or polygon in ``mode``; when nothing changes, ``ctx.message`` says why.

    Too few points (under 2 to slice, under 3 otherwise) do nothing and return False.
    """
    if mode not in SHAPE_MODES:
        raise ValueError(f"unknown shape mode {mode!r}; expected one of {', '.join(SHAPE_MODES)}")
    need = 2 if mode == "slice" else 3
    if len(points) < need:
        ctx.message(f"{what}: {len(points)} point(s), at least {need} needed to {mode}; nothing changed")
        return False
    shape = np.asarray(points, dtype=np.float64)
    if mode == "slice":
        changed = bool(ctx.document.slice(shape, width))
    elif mode == "add":
        changed = bool(ctx.document.add_polygon(shape, ctx.active_class))
    else:
        changed = bool(ctx.document.subtract_polygon(shape))
    if not changed:
        ctx.message(f"{what}: {NOTHING_CHANGED[mode]}")
    return changed


def short_label(tool: Any) -> str:
    """A tool's short name: the first word of its label ("Draw (add / delete)" -> "Draw")."""
    label = str(getattr(tool, "label", "") or getattr(tool, "name", "")).strip()
    return label.split()[0] if label else str(getattr(tool, "name", "tool"))


def tool_hint(tool: Any) -> str:
    """What the active tool and mode do, for the status bar; works for any :class:`~mia_core.api.Tool`.

    A tool's ``status_text()`` (what it expects next, e.g. DEXTR's point count) comes first, then
    its ``hints[mode]``; a tool that declares neither is named with its mode.
    """
    status_text = getattr(tool, "status_text", None)
    if callable(status_text):
        return str(status_text())
    mode = str(getattr(tool, "mode", "") or "")
    several = len(getattr(tool, "modes", ())) > 1 and bool(mode)
    hints = getattr(tool, "hints", None)
    text = hints.get(mode) if isinstance(hints, Mapping) else None
    if text:
        return f"{short_label(tool)}" + (f" ({mode})" if several else "") + f": {text}"
    label = str(getattr(tool, "label", "") or getattr(tool, "name", "tool"))
    return f"Tool: {label}" + (f", mode {mode} (right-click on the image for the next mode)" if several else "")


def shape_preview(points: np.ndarray, mode: str, width: int) -> Preview:
    """What a stroke or polygon in ``mode`` will do: the area it adds or deletes, or the slice's cut."""
    if mode == "slice":
        return Preview(polyline=points, closed=False, width=float(width), erase=True)
    return Preview(polyline=points, closed=True, filled=True, erase=mode == "delete")



class BaseTool:
    """Default :class:`mia_core.api.Tool`: modes toggled by a right click, no wheel, no preview.

    Subclasses set the class attributes and override ``press``/``move``/``release``; they edit
    ``ctx.document`` and keep their in-progress state (a stroke, a polygon) on the instance.
    ``hints`` maps each mode to what the user does in it ("click the corners, right-click to
    close"); the app shows it in the status bar and the mode buttons' tooltips (optional: a tool
    without hints is shown by its name).
    """

    name: str = ""
    label: str = ""
    shortcut: str | None = None
    icon: str | None = None
    modes: tuple[str, ...] = ("default",)
    navigates: bool = False
    hints: Mapping[str, str] = MappingProxyType({})
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

    @property
    def in_progress(self) -> bool:
        """True while an edit is under way, so Escape drops it before it cancels a running task."""
        return False

    def cancel(self) -> None:
        """Drop any edit in progress (Escape, tool switch, image change)."""
