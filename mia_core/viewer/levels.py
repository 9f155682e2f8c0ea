"""Display levels as in Fiji and napari: a histogram with draggable min/max, typed values, Auto, Reset.

The histogram and Auto come from a bounded sample of the frame the canvas draws
(:mod:`mia_core.display_levels`). The levels are remembered per image for the session.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import QDoubleSpinBox, QGridLayout, QHBoxLayout, QLabel, QToolButton, QWidget

from mia_core.display_levels import AUTO_PERCENTILES, histogram, level_sample, percentile_levels

#: Typed levels may go this far beyond any image value (a QDoubleSpinBox needs finite bounds).
_LIMIT = 1e12


class LevelsControl(QWidget):
    """The histogram of the frame on screen with its min/max region, two number boxes, Auto and Reset."""

    levelsChanged = pyqtSignal(float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.base: tuple[float, float] = (0.0, 255.0)  # the image's own range: what Reset shows
        self.key: Path | None = None
        self.remembered: dict[Path, tuple[float, float]] = {}
        self._sample = np.zeros(0)
        self._integer = True
        self.histogram = pg.HistogramLUTWidget(orientation="horizontal", background="#202020")
        self.histogram.setObjectName("levelsHistogram")
        item = self.histogram.item
        item.layout.removeItem(item.gradient)  # grey levels only: no colour map to edit
        item.gradient.hide()
        item.vb.setMenuEnabled(False)
        item.plot.setPen(pg.mkPen("#d0d0d0"))
        item.fillHistogram(True, 0.0, (150, 150, 150, 170))
        item.region.setBrush(pg.mkBrush(90, 150, 255, 40))
        self.histogram.setMinimumHeight(70)
        self.histogram.setMaximumHeight(80)
        self.histogram.setToolTip("Histogram of the frame (log scale): drag the lines to set the values "
                                  "shown as black and white, drag between them to move both")
        self.min_box = self._box("levelsMin", "Value shown as black (type a value and press Enter)")
        self.max_box = self._box("levelsMax", "Value shown as white (type a value and press Enter)")
        self.auto_button = self._button("Auto", f"Spread the values between the {AUTO_PERCENTILES[0]:g}th and "
                                        f"{AUTO_PERCENTILES[1]:g}th percentile of this frame")
        self.reset_button = self._button("Reset", "Back to the image's full range")
        boxes = QGridLayout()
        boxes.setContentsMargins(0, 0, 0, 0)
        boxes.addWidget(QLabel("Min"), 0, 0)
        boxes.addWidget(self.min_box, 0, 1)
        boxes.addWidget(self.auto_button, 0, 2)
        boxes.addWidget(QLabel("Max"), 1, 0)
        boxes.addWidget(self.max_box, 1, 1)
        boxes.addWidget(self.reset_button, 1, 2)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(self.histogram, 1)
        layout.addLayout(boxes)
        item.sigLevelsChanged.connect(self._region_moved)
        self.min_box.valueChanged.connect(lambda v: self._typed(v, None))
        self.max_box.valueChanged.connect(lambda v: self._typed(None, v))
        self.auto_button.clicked.connect(self.auto)
        self.reset_button.clicked.connect(self.reset)

    def _box(self, name: str, tip: str) -> QDoubleSpinBox:
        box = QDoubleSpinBox()
        box.setObjectName(name)
        box.setRange(-_LIMIT, _LIMIT)
        box.setKeyboardTracking(False)  # a typed value applies on Enter, not at every digit
        box.setFixedWidth(110)
        box.setToolTip(tip)
        return box

    def _button(self, text: str, tip: str) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setFocusPolicy(Qt.NoFocus)
        return button

    @property
    def region(self) -> pg.LinearRegionItem:
        """The draggable min/max region of the histogram."""
        return self.histogram.item.region

    @property
    def levels(self) -> tuple[float, float]:
        """The values shown as black and white now."""
        lo, hi = self.region.getRegion()
        return float(lo), float(hi)

    def set_image(self, key: Path, base: tuple[float, float], integer: bool) -> None:
        """A newly opened image: its range is what Reset shows; its levels from earlier in the session come back."""
        self.key = Path(key)
        self.base = (float(base[0]), float(base[1]))
        self._integer = bool(integer)
        width = max(self.base[1] - self.base[0], 1e-12)
        decimals = 0 if integer else int(min(max(4 - math.floor(math.log10(width)), 1), 8))
        step = 1.0 if integer else 10.0 ** math.floor(math.log10(width) - 2)
        for box in (self.min_box, self.max_box):
            box.blockSignals(True)
            box.setDecimals(decimals)
            box.setSingleStep(max(step, 10.0 ** -decimals))
            box.blockSignals(False)
        self.set_levels(*self.remembered.get(self.key, self.base))

    def show_values(self, frame: np.ndarray) -> None:
        """The histogram of the frame the canvas draws (a bounded sample of it)."""
        self._sample = level_sample(frame)
        centres, counts = histogram(self._sample)
        self.histogram.item.plot.setData(centres, np.log10(1.0 + counts.astype(np.float64)))
        self._fit_range()

    def set_levels(self, lo: float, hi: float) -> None:
        """Show ``lo`` as black and ``hi`` as white (the histogram, the boxes and the canvas follow)."""
        lo, hi = float(lo), float(hi)
        if hi <= lo:
            hi = lo + (1.0 if self._integer else max(abs(lo) * 1e-6, 1e-9))
        if (lo, hi) == self.levels:
            self._region_moved()  # nothing moves, but the boxes and the canvas must agree
        else:
            self.region.setRegion((lo, hi))
        self._fit_range()

    def auto(self) -> None:
        """Levels from the percentiles of the frame on screen."""
        self.set_levels(*percentile_levels(self._sample))

    def reset(self) -> None:
        """The image's full range."""
        self.set_levels(*self.base)

    # --- internals ---------------------------------------------------------------------------
    def _region_moved(self, *_: object) -> None:
        lo, hi = self.levels
        for box, value in ((self.min_box, lo), (self.max_box, hi)):
            box.blockSignals(True)
            box.setValue(value)
            box.blockSignals(False)
        if self.key is not None:
            self.remembered[self.key] = (lo, hi)
        self.levelsChanged.emit(lo, hi)

    def _typed(self, lo: float | None, hi: float | None) -> None:
        """A value typed in a box; the other end moves along when the two would cross."""
        old_lo, old_hi = self.levels
        lo = old_lo if lo is None else lo
        hi = old_hi if hi is None else hi
        if hi <= lo:
            gap = max(old_hi - old_lo, 1.0 if self._integer else 1e-9)
            lo, hi = (lo, lo + gap) if hi == old_hi else (hi - gap, hi)
        self.set_levels(lo, hi)

    def _fit_range(self) -> None:
        """The histogram's axis spans the image's range and the levels, whichever is wider."""
        lo, hi = self.levels
        data = (float(self._sample.min()), float(self._sample.max())) if self._sample.size else self.base
        self.histogram.item.setHistogramRange(min(lo, self.base[0], data[0]), max(hi, self.base[1], data[1]),
                                              padding=0.03)
