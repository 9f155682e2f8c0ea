"""The status bar: cursor position, pixel value, zoom, whether the labels are saved, and messages.

Messages stay true: between messages the bar shows the *hint* of the active tool and mode (what
a click does now), and a message about the labels on screen ("Predicted ...: Ctrl+Z takes the
prediction back") gives way to the hint as soon as those labels change (an edit, an undo, another
frame or image), so it never describes a state that is gone.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np
from PyQt5.QtCore import Qt, QTimer
from PyQt5.QtGui import QFont, QFontMetrics, QPainter, QPaintEvent
from PyQt5.QtWidgets import QLabel, QSizePolicy, QStatusBar, QToolButton, QWidget

from mia_core.viewer.gui_text import speak_gui
from mia_core.viewer.progress import ProgressPanel

ERROR_HOLD_MS = 6000
ERROR_STYLE = "color: #ff453a; font-weight: bold;"
WELCOME_STYLE = "color: #0a84ff;"


class ElidedLabel(QLabel):
    """A one-line label that ends a text too long for it with "…" (a plain QLabel cuts it off
    mid-word with no sign that more follows); ``text()`` and the tooltip keep the whole text."""

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt naming
        """Draw the text, elided to the label's width."""
        painter = QPainter(self)
        rect = self.contentsRect()
        shown = self.fontMetrics().elidedText(self.text(), Qt.ElideRight, rect.width())
        self.style().drawItemText(painter, rect, int(self.alignment()), self.palette(), self.isEnabled(),
                                  shown, self.foregroundRole())

    def shown_text(self) -> str:
        """The text as drawn now (elided to the width)."""
        return self.fontMetrics().elidedText(self.text(), Qt.ElideRight, self.contentsRect().width())


class StatusBar(QStatusBar):
    """Permanent fields on the right, messages and errors on the left."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message = ElidedLabel()
        self.message.setObjectName("statusMessage")
        self.message.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)  # long errors never widen the window
        self.welcome = QLabel()
        self.welcome.setObjectName("welcomeHint")
        self.welcome.setStyleSheet(WELCOME_STYLE)
        bold = QFont(self.welcome.font())
        bold.setBold(True)
        self.welcome.setFont(bold)
        self.welcome.setSizePolicy(QSizePolicy.Fixed, QSizePolicy.Preferred)  # as wide as set, never wider
        self.welcome.setFixedWidth(0)
        self.position = QLabel()
        self.value = QLabel()
        self.zoom = QLabel()
        self.saved = QLabel()
        self.saved.setObjectName("savedState")
        self.progress = ProgressPanel()
        self.plugin_warning = QToolButton()
        self.plugin_warning.setObjectName("pluginWarning")
        self.plugin_warning.setStyleSheet(ERROR_STYLE)
        self.plugin_warning.setAutoRaise(True)
        self.plugin_warning.hide()
        self.addWidget(self.welcome)
        self.addWidget(self.message, 1)
        self.addPermanentWidget(self.plugin_warning)
        self.addPermanentWidget(self.progress)
        for w, width in ((self.position, 110), (self.value, 120), (self.zoom, 80), (self.saved, 170)):
            w.setMinimumWidth(width)
            self.addPermanentWidget(w)
        self.last_error: str | None = None
        self.last_pointer: tuple[float, float] | None = None  # image x, y of the last readout
        self.hint: Callable[[], str] = lambda: ""
        self.showing_hint = False
        self._pending: str | None = None
        self._hint_after_hold = False
        self._hold = QTimer(self)
        self._hold.setSingleShot(True)
        self._hold.timeout.connect(self._release)

    def info(self, text: str) -> None:
        """A plain message; it waits while an error is still being held on screen."""
        if self._hold.isActive():
            self._pending = text
            return
        self._show(text, "")
        self.showing_hint = False

    def set_hint(self, source: Callable[[], str]) -> None:
        """Where the hint comes from (the active tool and mode); shown now."""
        self.hint = source
        self.show_hint()

    def show_hint(self) -> None:
        """Replace the message by what the active tool and mode do (an error still held waits)."""
        if self._hold.isActive():
            self._pending = None
            self._hint_after_hold = True
            return
        self._show(self.hint(), "")
        self.showing_hint = True

    def labels_moved(self) -> None:
        """The labels on screen changed: a message about the old ones is stale, show the hint."""
        self.show_hint()

    def show_welcome(self, text: str) -> None:
        """The first start's pointer to where to begin (until the user picks a tool or edits)."""
        self.welcome.setText(text)
        self.welcome.setToolTip(text)
        # always in the bar, zero wide when empty: the bar does not lay out widgets shown later
        width = min(QFontMetrics(self.welcome.font()).horizontalAdvance(text) + 16, 640) if text else 0
        self.welcome.setFixedWidth(width)
        self.reformat()

    def _show(self, text: str, style: str) -> None:
        text = speak_gui(text)  # engine messages name command-line flags; here the controls
        self.message.setStyleSheet(style)
        self.message.setText(text)
        self.message.setToolTip(text)

    def error(self, text: str) -> None:
        """A message the user must notice (in red), held for a few seconds against plain messages."""
        self.last_error = text = speak_gui(text)
        self._pending = None
        self._hint_after_hold = False
        self._show(text, ERROR_STYLE)
        self.showing_hint = False
        self._hold.start(ERROR_HOLD_MS)

    def _release(self) -> None:
        if self._pending is not None:
            text, self._pending = self._pending, None
            self.info(text)
        elif self._hint_after_hold:
            self.show_hint()
        self._hint_after_hold = False

    def show_plugin_failures(self, names: list[str]) -> None:
        """A lasting, clickable note that some plugins failed to load."""
        self.plugin_warning.setText(f"{len(names)} plugin(s) failed")
        self.plugin_warning.setToolTip("Failed to load: " + ", ".join(names) + " (click for details)")
        self.plugin_warning.setVisible(bool(names))

    def show_pixel(self, x: float, y: float, frame: np.ndarray | None) -> None:
        """Cursor position and the value of the pixel under it (blank outside the image)."""
        if frame is None:
            self.last_pointer = None
            self.position.clear()
            self.value.clear()
            return
        self.last_pointer = (x, y)
        col, row = int(round(x)), int(round(y))
        h, w = frame.shape[:2]
        if not (0 <= row < h and 0 <= col < w):  # off the image: no position, no value
            self.position.clear()
            self.value.clear()
            return
        self.position.setText(f"x {col}, y {row}")
        v = frame[row, col]
        if np.ndim(v):
            self.value.setText("value " + ", ".join(_fmt(c) for c in v))
        else:
            self.value.setText(f"value {_fmt(v)}")

    def show_zoom(self, zoom: float) -> None:
        """Screen pixels per image pixel, as a percentage."""
        self.zoom.setText(f"zoom {zoom * 100:.0f}%")

    def show_saved(self, path_name: str | None) -> None:
        """Every edit is saved at once; say when and where the last one went."""
        if path_name is None:
            self.saved.clear()
        else:
            self.saved.setStyleSheet("")
            self.saved.setText(f"saved {time.strftime('%H:%M:%S')}")
            self.saved.setToolTip(f"labels saved to {path_name}")

    def show_not_saved(self) -> None:
        """An edit was refused: make it plain nothing was written."""
        self.saved.setStyleSheet(ERROR_STYLE)
        self.saved.setText("NOT saved")


def _fmt(v: object) -> str:
    f = float(v)  # type: ignore[arg-type]
    return str(int(f)) if f.is_integer() else f"{f:.4g}"
