"""Reads images and checks folders off the GUI thread; only the newest request's result is used."""

from __future__ import annotations

from pathlib import Path

from PyQt5.QtCore import QObject, pyqtSignal

from mia_core.viewer.progress import ProgressPanel
from mia_core.viewer.workers import LoadedImage, Task, TaskRunner, load_image_job, scan_job, while_alive


class ImageLoader(QObject):
    """Loads one image at a time; a newer request or the cancel button drops an older one."""

    loaded = pyqtSignal(object)  # LoadedImage
    failed = pyqtSignal(object, str)  # Path, reason
    cancelled = pyqtSignal()

    def __init__(self, progress: ProgressPanel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.progress = progress
        self.runner = TaskRunner(2, self)
        self.task: Task | None = None
        progress.cancelRequested.connect(self._user_cancelled)

    @property
    def busy(self) -> bool:
        """True while a load is running."""
        return self.task is not None

    def load(self, path: Path) -> None:
        """Start reading ``path`` (dropping any load in progress)."""
        self.cancel()
        task = Task(load_image_job(path), f"Loading {path.name}")
        task.signals.finished.connect(while_alive(self, lambda result, tk=task: self._finished(tk, result)))
        task.signals.failed.connect(while_alive(self, lambda msg, _tb, tk=task, p=path: self._failed(tk, p, msg)))
        self.task = task
        self.progress.track(task)
        self.runner.start(task)

    def cancel(self) -> None:
        """Drop the load in progress without a signal (a newer request replaces it)."""
        if self.task is not None:
            self.task.cancel()
            self.task = None

    def abandon(self) -> None:
        """The window closes: stop every read; no late result reaches it."""
        self.task = None
        self.runner.abandon()

    def wait(self, msecs: int = 5000) -> bool:
        """Wait for running reads to end (tests, shutdown)."""
        return self.runner.wait(msecs)

    def _user_cancelled(self, task: Task) -> None:
        """The bar's Cancel: only a load's cancel is the loader's (the bar also serves predictions)."""
        if task is self.task:
            self.task = None
            self.cancelled.emit()

    def _finished(self, task: Task, result: LoadedImage) -> None:
        if task is self.task:
            self.task = None
            self.loaded.emit(result)

    def _failed(self, task: Task, path: Path, message: str) -> None:
        if task is self.task:
            self.task = None
            self.failed.emit(path, message)


class FolderScanner(QObject):
    """Checks in the background that every image of a folder can be read."""

    scanned = pyqtSignal(object)  # ScanResult

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = TaskRunner(1, self)
        self.task: Task | None = None

    def start(self, paths: list[Path]) -> None:
        """Check ``paths`` one by one, replacing any earlier scan."""
        self.cancel()
        task = Task(scan_job(paths), "Checking images", with_items=True)
        task.signals.item.connect(while_alive(
            self, lambda result, tk=task: tk is self.task and self.scanned.emit(result)))
        self.task = task
        self.runner.start(task)

    def cancel(self) -> None:
        """Stop the scan (another folder was opened)."""
        if self.task is not None:
            self.task.cancel()

    def abandon(self) -> None:
        """The window closes: stop the scan; no late result reaches it."""
        self.task = None
        self.runner.abandon()

    def wait(self, msecs: int = 5000) -> bool:
        """Wait for the scan to end."""
        return self.runner.wait(msecs)
