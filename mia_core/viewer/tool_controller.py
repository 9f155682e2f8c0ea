"""Forwards canvas pointer events to the active tool plugin and tells the widgets what changed.

The controller knows tools only through :class:`mia_core.api.Tool`, so a third-party tool is
driven exactly like a built-in one. A tool that raises (a bug in a plugin) or an edit that cannot
be saved (read-only folder) is reported through ``editFailed`` and the app goes on.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any, Callable, Sequence

from PyQt5.QtCore import QObject, pyqtSignal

from mia_core.api import PointerEvent, ToolContext
from mia_core.label_store import LabelStoreError

log = logging.getLogger(__name__)
ContextProvider = Callable[[], ToolContext | None]


class ToolController(QObject):
    """The active tool, the tool Space returns to, and event forwarding."""

    toolChanged = pyqtSignal(str)
    modeChanged = pyqtSignal(str)
    sizeChanged = pyqtSignal(int)
    previewChanged = pyqtSignal(object)
    editFailed = pyqtSignal(str)

    def __init__(self, tools: Sequence[Any], context: ContextProvider, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.tools: dict[str, Any] = {t.name: t for t in tools}
        self.context = context
        self.current: Any | None = None
        self.last_editing: str | None = None
        self._busy = False
        drag = self.drag_tool()
        first = drag or (tools[0].name if tools else None)
        editing = [t.name for t in tools if not getattr(t, "navigates", False)]
        self.last_editing = editing[0] if editing else None
        if first:
            self.select(first)

    # --- selection ---------------------------------------------------------------------------
    def drag_tool(self) -> str | None:
        """Name of the first navigating tool (Space switches to it)."""
        for t in self.tools.values():
            if getattr(t, "navigates", False):
                return t.name
        return None

    @property
    def navigates(self) -> bool:
        """True while the active tool lets the canvas pan and zoom."""
        return bool(self.current is not None and getattr(self.current, "navigates", False))

    def select(self, name: str) -> None:
        """Make ``name`` the active tool, dropping any edit in progress of the previous one."""
        tool = self.tools[name]
        if tool is self.current:
            return
        if self.current is not None:
            self._safe(self.current.cancel)
        self.current = tool
        if not getattr(tool, "navigates", False):
            self.last_editing = name
        self.toolChanged.emit(name)
        self.modeChanged.emit(str(getattr(tool, "mode", "")))
        self.sizeChanged.emit(int(getattr(tool, "size", 0) or 0))
        self.previewChanged.emit(None)

    def toggle_drag(self) -> None:
        """Space: between the drag tool and the last editing tool."""
        drag = self.drag_tool()
        if self.current is not None and self.current.name == drag or drag is None:
            if self.last_editing:
                self.select(self.last_editing)
        else:
            self.select(drag)

    def toggle_mode(self) -> None:
        """Next mode of the active tool (the mode button; a right click does this in the tool)."""
        tool = self.current
        if tool is None or len(getattr(tool, "modes", ())) < 2:
            return
        if hasattr(tool, "toggle_mode"):
            tool.toggle_mode()
        else:
            modes = list(tool.modes)
            tool.mode = modes[(modes.index(tool.mode) + 1) % len(modes)]
        self.modeChanged.emit(tool.mode)

    def set_mode(self, mode: str) -> None:
        """A mode button was clicked: make ``mode`` the active tool's mode (unknown modes are ignored)."""
        tool = self.current
        if tool is None or mode not in tuple(getattr(tool, "modes", ())) or mode == getattr(tool, "mode", None):
            return
        tool.mode = mode  # a polygon in progress stays: it closes in the new mode
        self.modeChanged.emit(mode)
        self._emit_preview()

    def set_size(self, size: int) -> None:
        """The size slider moved: resize the active tool's brush."""
        tool = self.current
        if tool is None or not getattr(tool, "size", 0):
            return
        if hasattr(tool, "set_size"):
            tool.set_size(int(size))
        else:
            tool.size = int(size)
        self.sizeChanged.emit(int(tool.size))
        self._emit_preview()

    def cancel(self) -> bool:
        """Escape, image or frame change: drop the edit in progress; True if there was one."""
        tool = self.current
        dropped = bool(getattr(tool, "in_progress", False))  # no tool, or one without it: nothing
        if tool is not None:
            self._safe(tool.cancel)
        self.previewChanged.emit(None)
        return dropped

    # --- events ------------------------------------------------------------------------------
    def press(self, event: PointerEvent) -> None:
        """Forward a press; a right press may have toggled the tool's mode."""
        self._dispatch("press", event)

    def move(self, event: PointerEvent) -> None:
        """Forward a move (hover or drag)."""
        self._dispatch("move", event)

    def release(self, event: PointerEvent) -> None:
        """Forward a release: drawing tools commit their edit here."""
        self._dispatch("release", event)

    def wheel(self, event: PointerEvent) -> bool:
        """Forward a wheel notch; True when the tool used it (its size changed)."""
        tool = self.current
        ctx = self.context()
        if tool is None or ctx is None:
            return False
        before = getattr(tool, "size", 0)
        used = self._safe(lambda: tool.wheel(ctx, event))
        if used:
            if getattr(tool, "size", 0) != before:
                self.sizeChanged.emit(int(tool.size))
            self._emit_preview()
        return bool(used)

    def _dispatch(self, what: str, event: PointerEvent) -> None:
        tool = self.current
        ctx = self.context()
        if tool is None or ctx is None or self._busy:
            return
        mode, size = getattr(tool, "mode", ""), getattr(tool, "size", 0)
        self._busy = True
        try:
            self._safe(lambda: getattr(tool, what)(ctx, event))
        finally:
            self._busy = False
        if getattr(tool, "mode", "") != mode:
            self.modeChanged.emit(str(tool.mode))
        if getattr(tool, "size", 0) != size:
            self.sizeChanged.emit(int(tool.size))
        self._emit_preview()

    def _emit_preview(self) -> None:
        tool = self.current
        if tool is not None:
            self.previewChanged.emit(self._safe(tool.preview))

    def _safe(self, call: Callable[[], Any]) -> Any:
        """Run tool code; turn failures into a message instead of a crash."""
        try:
            return call()
        except LabelStoreError as exc:
            self._drop_in_progress()
            self.editFailed.emit(f"Edit not saved: {exc}")
        except Exception as exc:  # noqa: BLE001 - a plugin bug must not take the app down
            log.error("tool %s failed:\n%s", getattr(self.current, "name", "?"), traceback.format_exc())
            self._drop_in_progress()
            self.editFailed.emit(f"Tool {getattr(self.current, 'name', '?')!r} failed: {exc}")
        return None

    def _drop_in_progress(self) -> None:
        if self.current is not None:
            try:
                self.current.cancel()
            except Exception:  # noqa: BLE001
                log.exception("cancel failed")
