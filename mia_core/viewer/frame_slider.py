"""The frame slider of a multi-frame stack, with the per-frame / shared-stack label switch."""

from __future__ import annotations

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QSlider, QWidget


class FrameSlider(QWidget):
    """Steps through frames; "one label for the whole stack" shares one label file for all frames."""

    frameChanged = pyqtSignal(int)
    sharedChanged = pyqtSignal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setObjectName("frameSlider")
        self.slider.setFocusPolicy(Qt.ClickFocus)
        self.label = QLabel()
        self.label.setMinimumWidth(90)
        self.shared = QCheckBox("One label for the whole stack")
        self.shared.setFocusPolicy(Qt.NoFocus)
        self.shared.setToolTip("Off: each frame has its own label file (<stem>_frameNNNN.npz); "
                               "on: one file (<stem>.npz) for every frame")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 0, 4, 0)
        layout.addWidget(QLabel("Frame"))
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.label)
        layout.addWidget(self.shared)
        self.slider.valueChanged.connect(self._moved)
        self.shared.toggled.connect(self.sharedChanged.emit)
        self.set_stack(1, 0, False)

    @property
    def frame(self) -> int:
        """The frame shown."""
        return self.slider.value()

    @property
    def frames(self) -> int:
        """Number of frames of the stack."""
        return self.slider.maximum() + 1

    def set_stack(self, frames: int, frame: int = 0, shared: bool = False) -> None:
        """Configure for an image of ``frames`` frames (hidden for single images), silently."""
        self.blockSignals(True)
        self.slider.blockSignals(True)
        self.shared.blockSignals(True)
        self.slider.setRange(0, max(frames - 1, 0))
        self.slider.setValue(frame)
        self.shared.setChecked(shared)
        self.slider.blockSignals(False)
        self.shared.blockSignals(False)
        self.blockSignals(False)
        self._update_label()
        self.setVisible(frames > 1)

    def step(self, delta: int) -> None:
        """Next (+1) or previous (-1) frame, stopping at the ends."""
        self.slider.setValue(min(max(self.frame + delta, 0), self.frames - 1))

    def _moved(self, value: int) -> None:
        self._update_label()
        self.frameChanged.emit(value)

    def _update_label(self) -> None:
        self.label.setText(f"{self.frame + 1} / {self.frames}")
