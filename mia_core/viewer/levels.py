"""Brightness and contrast: two sliders that move the display levels around the image's own range."""

from __future__ import annotations

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import QHBoxLayout, QLabel, QSlider, QToolButton, QWidget


def levels_for(base: tuple[float, float], brightness: int, contrast: int) -> tuple[float, float]:
    """Display levels from the image's range: brightness shifts (-100..100 = one range width),
    contrast scales the width by 2**(-contrast/25) (-100..100)."""
    lo, hi = base
    width = max(hi - lo, 1e-12)
    centre = (lo + hi) / 2.0 - brightness / 100.0 * width
    half = width * 2.0 ** (-contrast / 25.0) / 2.0
    return centre - half, centre + half


class LevelsControl(QWidget):
    """Brightness / contrast sliders and a reset button; emits the levels to show."""

    levelsChanged = pyqtSignal(float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.base: tuple[float, float] = (0.0, 255.0)
        self.brightness = self._slider("Brightness")
        self.contrast = self._slider("Contrast")
        self.reset_button = QToolButton()
        self.reset_button.setText("Auto")
        self.reset_button.setToolTip("Back to the image's own range")
        self.reset_button.setFocusPolicy(Qt.NoFocus)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(QLabel("Brightness"))
        layout.addWidget(self.brightness)
        layout.addWidget(QLabel("Contrast"))
        layout.addWidget(self.contrast)
        layout.addWidget(self.reset_button)
        layout.addStretch(1)
        self.reset_button.clicked.connect(self.reset)

    def _slider(self, name: str) -> QSlider:
        s = QSlider(Qt.Horizontal)
        s.setObjectName(name.lower())
        s.setRange(-100, 100)
        s.setFocusPolicy(Qt.NoFocus)
        s.setMaximumWidth(140)
        s.valueChanged.connect(self._changed)
        return s

    @property
    def levels(self) -> tuple[float, float]:
        """The levels the sliders give now."""
        return levels_for(self.base, self.brightness.value(), self.contrast.value())

    def set_base(self, base: tuple[float, float]) -> None:
        """A new image: its range becomes what the sliders are relative to (sliders kept)."""
        self.base = base

    def reset(self) -> None:
        """Neutral brightness and contrast."""
        for s in (self.brightness, self.contrast):
            s.blockSignals(True)
            s.setValue(0)
            s.blockSignals(False)
        self._changed()

    def _changed(self, *_: object) -> None:
        self.levelsChanged.emit(*self.levels)
