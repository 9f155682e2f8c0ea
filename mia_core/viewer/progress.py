"""A progress bar with a cancel button for the task the user is waiting on."""

from __future__ import annotations

from PyQt5.QtCore import Qt, QTimer, pyqtSignal
from PyQt5.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from mia_core.viewer.workers import Task, while_alive

#: Tasks that end sooner than this never show the bar (no flicker on small images).
SHOW_AFTER_MS = 150


class ProgressPanel(QWidget):
    """Shows one foreground task's progress; cancel stops it and hides the bar at once."""

    cancelRequested = pyqtSignal(object)  # the task the user cancelled

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = QLabel()
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(180)
        self.bar.setTextVisible(False)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.setObjectName("cancelTask")
        self.cancel_button.setFocusPolicy(Qt.NoFocus)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.text)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self.task: Task | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._reveal)
        self.cancel_button.clicked.connect(self.cancel)
        self.hide()

    def track(self, task: Task, delay_ms: int = SHOW_AFTER_MS) -> None:
        """Follow ``task`` (replacing any earlier one) until it finishes, fails or is cancelled."""
        self.task = task
        self.text.setText(task.label)
        self.bar.setRange(0, 0)
        task.signals.progress.connect(while_alive(self, lambda d, t, tk=task: self._progress(tk, d, t)))
        for sig in (task.signals.finished, task.signals.failed, task.signals.cancelled):
            sig.connect(while_alive(self, lambda *_a, tk=task: self._ended(tk)))
        if delay_ms <= 0:
            self._reveal()
        else:
            self._timer.start(delay_ms)

    def cancel(self) -> None:
        """Cancel the tracked task; the bar goes away at once."""
        if self.task is not None:
            task, self.task = self.task, None
            task.cancel()
            self.cancelRequested.emit(task)
        self._timer.stop()
        self.hide()

    def _reveal(self) -> None:
        if self.task is not None:
            self.show()

    def _progress(self, task: Task, done: int, total: int) -> None:
        if task is self.task:
            self.bar.setRange(0, total)
            self.bar.setValue(done)

    def _ended(self, task: Task) -> None:
        if task is self.task:
            self.task = None
            self._timer.stop()
            self.hide()
