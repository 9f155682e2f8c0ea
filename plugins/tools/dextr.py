"""The DEXTR tool: click the 4 extreme points of an object (any order) and it is segmented in the
active class, inside the field of view, as one undo step.

The tool reaches the ``dextr`` and ``grabcut`` assistants through ``ToolContext.assistants`` and
runs them through ``ToolContext.run`` (a worker in the app). Until a DEXTR model exists it falls
back to GrabCut from the points' bounding box with the points as sure foreground, and says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mia_core.api import AssistantError, PointerEvent, Preview, ToolContext
from mia_core.assist import clip_view, points_hints
from mia_core.hooks import hookimpl
from mia_core.tool_base import BaseTool

POINTS = 4


def run_dextr(ctx: ToolContext, points: np.ndarray) -> tuple[tuple[int, int, int, int], np.ndarray, str]:
    """Segment the object in the field of view: (view box, mask of the view, what was used).

    Raises AssistantError (with the message for the user) on bad input or a damaged model.
    """
    if ctx.image is None:
        raise AssistantError("DEXTR: no image is open")
    image = np.asarray(ctx.image)
    h, w = image.shape[:2]
    pts = np.asarray(points, dtype=np.float64)
    if ((pts[:, 0] < -0.5) | (pts[:, 1] < -0.5) | (pts[:, 0] > w - 0.5) | (pts[:, 1] > h - 0.5)).any():
        raise AssistantError(f"DEXTR: points must lie on the image ({w}×{h}); click inside it")
    box = clip_view(ctx.view, (h, w))
    x0, y0, x1, y1 = box
    crop = image[y0:y1, x0:x1]
    local = pts - (x0, y0)
    if ((local[:, 0] < -0.5) | (local[:, 1] < -0.5) | (local[:, 0] > (x1 - x0) - 0.5) | (local[:, 1] > (y1 - y0) - 0.5)).any():
        raise AssistantError("DEXTR: points must lie in the field of view; zoom out to show the whole object")
    levels = ctx.settings.get("levels")
    dextr = ctx.assistants.get("dextr")
    model = ctx.settings.get("dextr_model")
    if dextr is not None and getattr(dextr, "available", lambda m: m is not None)(model):
        mask = dextr.predict(crop, {"points": local, "model": model, "levels": levels})
        return box, mask, "DEXTR"
    grabcut = ctx.assistants.get("grabcut")
    if grabcut is None:
        raise AssistantError("DEXTR: no DEXTR model and no GrabCut assistant to fall back on")
    # validate the points the way DEXTR would, so the fallback refuses the same bad clicks
    span = local.max(axis=0) - local.min(axis=0)
    if span.max() < 3:
        raise AssistantError("DEXTR: the points are all on one spot: click the top, left, right and bottom of the object")
    hints = points_hints(local, crop.shape[:2])
    hints["levels"] = levels
    return box, grabcut.predict(crop, hints), "GrabCut fallback (no DEXTR model yet: train one with Assist > Train DEXTR)"


class DextrTool(BaseTool):
    """Collects 4 extreme points; the 4th click segments the object."""

    name = "dextr"
    label = "DEXTR (4 extreme points)"
    shortcut = "F7"
    icon = "✥"
    modes = ("points",)
    hints = {"points": "click the top, left, right and bottom edges of an object; right-click removes the last point"}

    def __init__(self) -> None:
        super().__init__()
        self._points: list[tuple[float, float]] = []
        self._cursor: tuple[float, float] | None = None

    @property
    def points(self) -> list[tuple[float, float]]:
        """The points clicked so far."""
        return list(self._points)

    def press(self, ctx: ToolContext, event: PointerEvent) -> None:
        """Left adds an extreme point (the 4th starts the segmentation); right removes the last."""
        if event.button == "right":
            if self._points:
                self._points.pop()
            ctx.message(self.status_text())
            return
        if event.button != "left":
            return
        self._points.append((float(event.x), float(event.y)))
        if len(self._points) < POINTS:
            ctx.message(self.status_text())
            return
        points, self._points = np.asarray(self._points), []
        class_id = ctx.active_class
        document = ctx.document
        ctx.message("DEXTR: segmenting…")

        def job() -> Any:
            try:
                return run_dextr(ctx, points)
            except AssistantError as exc:
                return str(exc)

        def done(result: Any) -> None:
            if isinstance(result, str):
                ctx.message(result)
                return
            box, mask, used = result
            changed = document.replace_class_in_box(box, mask, class_id)
            ctx.message(f"DEXTR: object added with {used}" if changed else f"DEXTR: {used} found nothing new")

        ctx.run(job, done)

    def move(self, ctx: ToolContext, event: PointerEvent) -> None:
        """Follow the cursor for the preview."""
        self._cursor = (float(event.x), float(event.y))

    def status_text(self) -> str:
        """What the tool expects next."""
        return f"DEXTR: {len(self._points)} of {POINTS} extreme points; right-click undoes one"

    def preview(self) -> Preview | None:
        """The points so far as dots (a line through them would suggest an outline, which they are not)."""
        if not self._points:
            return None
        return Preview(markers=np.asarray(self._points, dtype=np.float64))

    @property
    def in_progress(self) -> bool:
        """True once a point is clicked (Escape drops the points first)."""
        return bool(self._points)

    def cancel(self) -> None:
        """Drop the points clicked so far."""
        self._points = []


@hookimpl
def mia_tools() -> list[BaseTool]:
    """Register the DEXTR tool."""
    return [DextrTool()]
