"""The image canvas: pyqtgraph view of one frame, its contours and the tool preview.

Mouse events become :class:`mia_core.api.PointerEvent` in image coordinates (x = column,
y = row, pixel centres at integers) and go to a :class:`PointerHandler` (the tool controller).
pyqtgraph pans and zooms only while the handler's tool navigates (the drag tool); the middle
button pans in every tool.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import QPoint, QPointF, QRectF, Qt, pyqtSignal
from PyQt5.QtGui import QMouseEvent, QWheelEvent
from PyQt5.QtWidgets import QLabel

from mia_core.api import PointerEvent
from mia_core.viewer.contours import PIXEL_CENTRE, ContourLayer
from mia_core.viewer.preview import PreviewLayer

_BUTTONS = {
    Qt.LeftButton: "left",
    Qt.RightButton: "right",
    Qt.MiddleButton: "middle",
}



#: Frames with a longer side are drawn from a copy reduced by a whole factor to at most this side:
#: pyqtgraph builds a 4-byte-per-pixel picture of what it is given (20000x20000 would take 1.6 GB).
DISPLAY_MAX_SIDE = 8192


def display_copy(frame: np.ndarray) -> np.ndarray:
    """The frame itself, or every k-th pixel of it when its longer side exceeds DISPLAY_MAX_SIDE."""
    step = -(-max(frame.shape[:2]) // DISPLAY_MAX_SIDE)
    if step <= 1:
        return frame
    return np.ascontiguousarray(frame[::step, ::step])

class PointerHandler(Protocol):
    """Receives the canvas's pointer events (the tool controller)."""

    @property
    def navigates(self) -> bool: ...

    def press(self, event: PointerEvent) -> None: ...

    def move(self, event: PointerEvent) -> None: ...

    def release(self, event: PointerEvent) -> None: ...

    def wheel(self, event: PointerEvent) -> bool: ...


def modifiers_of(mods: Qt.KeyboardModifiers) -> frozenset[str]:
    """Qt keyboard modifiers as the names tools see."""
    names = set()
    if mods & Qt.ShiftModifier:
        names.add("shift")
    if mods & Qt.ControlModifier:
        names.add("ctrl")
    if mods & Qt.AltModifier:
        names.add("alt")
    return frozenset(names)


class Canvas(pg.GraphicsView):
    """Shows a frame with its contours; converts mouse events to image coordinates."""

    hovered = pyqtSignal(float, float)  # image x, y under the pointer
    left = pyqtSignal()  # the pointer left the canvas: no pixel is under it
    zoomChanged = pyqtSignal(float)  # screen pixels per image pixel

    def __init__(self, parent: object | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.StrongFocus)
        self.viewport().setMouseTracking(True)
        self.setBackground("#202020")
        self.view = pg.ViewBox(lockAspect=True, invertY=True, enableMenu=False)
        self.setCentralItem(self.view)
        self.image_item = pg.ImageItem(axisOrder="row-major")
        self.view.addItem(self.image_item)
        self.contours = ContourLayer(self.view)
        self.preview = PreviewLayer(self.view)
        self.handler: PointerHandler | None = None
        self.frame: np.ndarray | None = None
        self._held: str | None = None
        self._passthrough: set[int] = set()
        self._wheel_rest = 0  # part of a notch from high-resolution wheels
        self.view.sigRangeChanged.connect(lambda *_: self.zoomChanged.emit(self.zoom()))
        self.view.sigRangeChangedManually.connect(self._user_moved)
        self._fitted = False  # while True, the image is re-fitted when the canvas resizes
        self.message = QLabel(self)
        self.message.setObjectName("canvasMessage")
        self.message.setAlignment(Qt.AlignCenter)
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #d0d0d0; font-size: 15px; background: transparent;")
        self.message.hide()

    def set_message(self, text: str | None) -> None:
        """A line in the middle of an empty canvas (why nothing is shown), or None."""
        self.message.setText(text or "")
        self.message.setVisible(bool(text))
        self._place_message()

    def _place_message(self) -> None:
        margin = 40
        self.message.setGeometry(margin, margin, max(self.width() - 2 * margin, 10), max(self.height() - 2 * margin, 10))

    def resizeEvent(self, ev: object) -> None:
        """Keep the message centred."""
        super().resizeEvent(ev)
        if hasattr(self, "message"):
            self._place_message()
            if self._fitted:
                self.fit()

    # --- content -----------------------------------------------------------------------------
    def set_frame(self, frame: np.ndarray | None, levels: tuple[float, float] | None = None,
                  fit: bool = False) -> None:
        """Show a frame ((H, W) or (H, W, 3)); ``fit`` frames the whole image."""
        self.frame = frame
        if frame is not None:
            self.set_message(None)
        if frame is None:
            self.image_item.clear()
            self.contours.show(None)
            self.preview.show(None)
            return
        shown = display_copy(frame)
        self.image_item.setImage(shown, levels=levels, autoLevels=levels is None)
        h, w = frame.shape[:2]
        self.image_item.setRect(QRectF(0, 0, w, h))  # a reduced copy still spans the image's pixels
        if fit:
            self.fit()

    def set_levels(self, levels: tuple[float, float]) -> None:
        """Brightness/contrast: the values shown as black and white."""
        if self.frame is not None:
            self.image_item.setLevels(levels)

    def fit(self) -> None:
        """Zoom so the whole frame fits the window."""
        if self.frame is None:
            return
        h, w = self.frame.shape[:2]
        self.view.setRange(QRectF(0, 0, w, h), padding=0.02)
        self._fitted = True

    def _user_moved(self, *_: object) -> None:
        self._fitted = False

    def zoom(self) -> float:
        """Screen pixels per image pixel."""
        rect = self.view.viewRect()
        return self.view.width() / rect.width() if rect.width() > 0 else 1.0

    def zoom_by(self, factor: float) -> None:
        """Zoom in (>1) or out (<1) around the centre of the view."""
        self.view.scaleBy((1.0 / factor, 1.0 / factor))

    # --- coordinates -------------------------------------------------------------------------
    def widget_to_image(self, pos: QPointF | QPoint) -> tuple[float, float]:
        """Viewport position -> image x (column), y (row), pixel centres at integers."""
        p = self.image_item.mapFromScene(self.mapToScene(QPoint(int(round(pos.x())), int(round(pos.y())))))
        return p.x() - PIXEL_CENTRE, p.y() - PIXEL_CENTRE

    def image_to_widget(self, x: float, y: float) -> QPoint:
        """Image x, y -> viewport position (used by tests to click on pixels)."""
        scene = self.image_item.mapToScene(QPointF(x + PIXEL_CENTRE, y + PIXEL_CENTRE))
        return self.mapFromScene(scene)

    def _pointer(self, ev: QMouseEvent | QWheelEvent, button: str, delta: int = 0) -> PointerEvent:
        pos = ev.posF() if isinstance(ev, QWheelEvent) else ev.localPos()
        x, y = self.widget_to_image(pos)
        return PointerEvent(x, y, button, modifiers_of(ev.modifiers()), delta)  # type: ignore[arg-type]

    # --- events ------------------------------------------------------------------------------
    def _navigating(self) -> bool:
        return self.handler is None or self.handler.navigates

    def mousePressEvent(self, ev: QMouseEvent) -> None:
        """Tools get the press; navigation (drag tool, middle button) goes to pyqtgraph."""
        button = _BUTTONS.get(ev.button())
        if button is None:
            return
        if self._navigating() or button == "middle":
            self._passthrough.add(int(ev.button()))
            super().mousePressEvent(ev)
        if self.handler is not None and button != "middle":
            self._held = button
            self.handler.press(self._pointer(ev, button))
        ev.accept()

    def mouseDoubleClickEvent(self, ev: QMouseEvent) -> None:  # noqa: N802 - Qt naming
        """A quick second click is a click: Qt delivers its press as a double-click, and a tool must
        not lose it (two right clicks switch the mode twice; two left clicks place two vertices)."""
        self.mousePressEvent(ev)

    def mouseMoveEvent(self, ev: QMouseEvent) -> None:
        """Forward moves (with the held button, or "none" while hovering) and report the position."""
        if self._passthrough or self._navigating():
            super().mouseMoveEvent(ev)
        event = self._pointer(ev, self._held or "none")
        self.hovered.emit(event.x, event.y)
        if self.handler is not None:
            self.handler.move(event)
        ev.accept()

    def leaveEvent(self, ev: object) -> None:
        """The pointer left the canvas: the position readout must not show the last pixel."""
        self.left.emit()
        super().leaveEvent(ev)

    def mouseReleaseEvent(self, ev: QMouseEvent) -> None:
        """Releases commit a tool's edit."""
        button = _BUTTONS.get(ev.button())
        if int(ev.button()) in self._passthrough:
            self._passthrough.discard(int(ev.button()))
            super().mouseReleaseEvent(ev)
        if button is None or button == "middle":
            return
        if self.handler is not None and self._held == button:
            self._held = None
            self.handler.release(self._pointer(ev, button))
        ev.accept()

    def wheelEvent(self, ev: QWheelEvent) -> None:
        """A tool may use the wheel (brush size, one call per notch); else only the drag tool zooms."""
        self._wheel_rest += ev.angleDelta().y() or ev.angleDelta().x()
        notches = int(self._wheel_rest / 120)
        self._wheel_rest -= notches * 120
        step = 1 if notches > 0 else -1
        used = False
        for _ in range(abs(notches)):
            if self.handler is not None and self.handler.wheel(self._pointer(ev, "none", step)):
                used = True
        if not used and self._navigating():
            super().wheelEvent(ev)
        ev.accept()
