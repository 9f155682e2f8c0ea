"""Background work: anything slower than a frame runs on a thread pool and reports through signals.

A :class:`Task` wraps a plain function ``fn(report)``; the function calls ``report(done, total)``
as it goes (``total`` 0 means "busy, no count"), which raises :class:`Cancelled` once the user
pressed cancel. Results, errors and progress reach the GUI thread only as queued signals, so no
widget is ever touched from a worker.
"""

from __future__ import annotations

import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PyQt5.QtCore import QObject, QRunnable, QThreadPool, pyqtSignal

Report = Callable[[int, int], None]


class Cancelled(Exception):
    """Raised inside a task's function by ``report`` after the task was cancelled."""


class TaskSignals(QObject):
    """The signals of one task; they live in the GUI thread, so receivers run there."""

    progress = pyqtSignal(int, int)  # done, total (0 = busy)
    item = pyqtSignal(object)  # a partial result (e.g. one scanned file)
    finished = pyqtSignal(object)  # the function's return value
    failed = pyqtSignal(str, str)  # message, traceback
    cancelled = pyqtSignal()


class Task(QRunnable):
    """One cancellable call of ``fn(report)`` (or ``fn(report, emit)``) on a thread pool."""

    def __init__(self, fn: Callable[..., Any], label: str, with_items: bool = False) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.fn = fn
        self.label = label
        self.with_items = with_items
        self.signals = TaskSignals()
        self._cancel = threading.Event()
        self.done = threading.Event()

    @property
    def is_cancelled(self) -> bool:
        """True once cancel() was called."""
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Ask the task to stop at its next progress report; its result will be dropped."""
        self._cancel.set()

    def _report(self, done: int, total: int) -> None:
        if self._cancel.is_set():
            raise Cancelled()
        self.signals.progress.emit(int(done), int(total))

    def run(self) -> None:
        """Run on a worker thread: only emit signals from here, never touch widgets."""
        try:
            if self.with_items:
                result = self.fn(self._report, self.signals.item.emit)
            else:
                result = self.fn(self._report)
            if self._cancel.is_set():
                raise Cancelled()
        except Cancelled:
            self.signals.cancelled.emit()
        except Exception as exc:  # noqa: BLE001 - reported to the user, the app goes on
            self.signals.failed.emit(str(exc) or type(exc).__name__, traceback.format_exc())
        else:
            self.signals.finished.emit(result)
        finally:
            self.done.set()


class TaskRunner(QObject):
    """Starts tasks on its own pool and keeps them alive until they end."""

    def __init__(self, threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self._running: set[Task] = set()

    def start(self, task: Task) -> Task:
        """Start a task (its signals must be connected before)."""
        self._running.add(task)
        for sig in (task.signals.finished, task.signals.failed, task.signals.cancelled):
            sig.connect(lambda *_a, t=task: self._running.discard(t))
        self.pool.start(task)
        return task

    def wait(self, msecs: int = 5000) -> bool:
        """Wait for the pool to drain (tests, shutdown)."""
        return self.pool.waitForDone(msecs)


# --- the jobs the viewer runs -------------------------------------------------------------------
@dataclass(frozen=True)
class LoadedImage:
    """An image read by a worker, with display levels computed there too."""

    path: Path
    data: np.ndarray  # (frames, H, W) or (frames, H, W, 3)
    levels: tuple[float, float]

    @property
    def frames(self) -> int:
        """Number of frames (1 for a single image)."""
        return int(self.data.shape[0])

    @property
    def shape(self) -> tuple[int, int]:
        """Height, width of a frame."""
        return int(self.data.shape[1]), int(self.data.shape[2])


def auto_levels(data: np.ndarray, report: Report | None = None) -> tuple[float, float]:
    """Display levels: 8-bit shows as it is; other types span their finite min..max."""
    if data.dtype == np.uint8:
        return 0.0, 255.0
    lo, hi = np.inf, -np.inf
    for i in range(data.shape[0]):
        frame = data[i]
        step = max(1, int(np.sqrt(frame.shape[0] * frame.shape[1] / 1_000_000)))
        sample = frame[::step, ::step]
        if np.issubdtype(sample.dtype, np.floating):
            sample = sample[np.isfinite(sample)]
        if sample.size:
            lo, hi = min(lo, float(sample.min())), max(hi, float(sample.max()))
        if report is not None:
            report(i + 1, data.shape[0])
    if not np.isfinite(lo) or not np.isfinite(hi):
        return 0.0, 1.0
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi


class LoadError(Exception):
    """Why an image could not be loaded (the caller names the file)."""


def load_image_job(path: Path) -> Callable[[Report], LoadedImage]:
    """A task function that reads an image or stack and computes its display levels."""

    def job(report: Report) -> LoadedImage:
        from mia_core.images import ImageReadError, read_image

        report(0, 0)
        try:
            data = read_image(path)
        except ImageReadError as exc:
            raise LoadError(exc.reason) from exc
        report(0, 0)
        return LoadedImage(Path(path), data, auto_levels(data, report))

    return job


@dataclass(frozen=True)
class ScanResult:
    """What the folder scan learned about one file."""

    path: Path
    frames: int | None  # None when not checked
    error: str | None  # why the file cannot be read, None when it can


def scan_job(paths: list[Path]) -> Callable[[Report, Callable[[object], None]], int]:
    """A task function that checks every file can be read, emitting one ScanResult per file."""

    def job(report: Report, emit: Callable[[object], None]) -> int:
        from mia_core.images import ImageReadError, image_shape, read_image

        for i, path in enumerate(paths):
            report(i, len(paths))
            try:
                shape = image_shape(path)
                if path.suffix.lower() not in (".tif", ".tiff"):
                    # headers can look fine on a truncated file: decode small files fully
                    if path.stat().st_size < 32 * 1024 * 1024:
                        shape = read_image(path).shape
                emit(ScanResult(path, int(shape[0]), None))
            except ImageReadError as exc:
                emit(ScanResult(path, None, exc.reason))
            except OSError as exc:
                emit(ScanResult(path, None, str(exc)))
        report(len(paths), len(paths))
        return len(paths)

    return job
