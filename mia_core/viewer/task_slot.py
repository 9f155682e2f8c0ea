"""One foreground task at a time, shown in the status bar: the plumbing the Model menu and
Auto-seg share (start with progress, forget when it ends, report the outcome)."""

from __future__ import annotations

from typing import Any

from PyQt5.QtCore import QObject, pyqtSignal

from mia_core.viewer.workers import Task, TaskRunner, while_alive


class StatusTaskSlot(QObject):
    """Runs one task at a time with the window's progress bar; the outcome goes to the status bar."""

    finished = pyqtSignal(str)  # what a run ended with (also shown in the status bar)

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.runner = TaskRunner(1, self)
        self.task: Task | None = None
        self.last_message = ""

    def cancel(self) -> bool:
        """Escape: cancel the running task; True when there was one."""
        if self.task is None:
            return False
        if self.window.status.progress.task is self.task:
            self.window.status.progress.cancel()  # the bar goes at once, as with its Cancel button
        else:
            self.task.cancel()
        return True

    def _start(self, task: Task) -> Task:
        for sig in (task.signals.failed, task.signals.cancelled):
            sig.connect(while_alive(self, lambda *_a, t=task: self._forget(t)))
        task.signals.cancelled.connect(while_alive(self, lambda t=task: self._cancelled(t)))
        self.task = task
        self.window.status.progress.track(task)  # the bar names the task; the message need not repeat it
        self.window.status.info("Working… Escape cancels")
        self.runner.start(task)
        return task

    def _forget(self, task: Task) -> None:
        if self.task is task:
            self.task = None

    def _cancelled(self, task: Task) -> None:
        """A cancelled task says so (a subclass may stay quiet for some)."""
        self._fail(f"{task.label}: cancelled")

    def _done(self, text: str) -> None:
        self.last_message = text
        self.window.status.info(text)
        self.finished.emit(text)

    def _fail(self, text: str) -> None:
        self.last_message = text
        self.window.status.error(text)
        self.finished.emit(text)
