"""Background work: anything slower than a frame runs on a thread pool and reports through signals.

A :class:`Task` wraps a plain function ``fn(report)``; the function calls ``report(done, total)``
as it goes (``total`` 0 means "busy, no count"), which raises :class:`Cancelled` once the user
pressed cancel. Results, errors and progress reach the GUI thread only as queued signals, so no
widget is ever touched from a worker.
"""

from __future__ import annotations

import atexit
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
from PyQt5 import sip
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
    ended = pyqtSignal(object)  # the Task, after any of the three above (bookkeeping only)


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
            self.signals.ended.emit(self)  # queued after the result: retires the task


# --- one pool for the whole process ----------------------------------------------------------
# A QThreadPool's destructor waits for its running tasks. Destroyed by the garbage collector (the
# GIL held) while a task still needs the GIL to return, it deadlocks. So there is one pool, owned
# by C++ and never destroyed; tasks are kept alive here until their last signal reached the GUI
# thread, so no task, nor the slots connected to it, is collected while one of its signals is
# still on its way; and at exit the pool is drained with the GIL released.
_POOL: QThreadPool | None = None
_LIVE: set[Task] = set()
_LIVE_LOCK = threading.Lock()
#: How long the process waits at exit for running tasks (they end at their next progress report).
EXIT_WAIT_MS = 3000


def while_alive(owner: QObject, slot: Callable[..., Any]) -> Callable[..., None]:
    """``slot`` that does nothing once ``owner`` is deleted: a task may outlive the widget that waits on it."""

    def call(*args: Any) -> None:
        if not sip.isdeleted(owner):
            slot(*args)

    return call


def shared_pool() -> QThreadPool:
    """The process's one thread pool (made on first use, never destroyed)."""
    global _POOL
    if _POOL is None:
        pool = QThreadPool()
        pool.setMaxThreadCount(max(8, pool.maxThreadCount()))
        sip.transferto(pool, None)  # C++ owns it: no Python destructor ever waits on it
        _POOL = pool
        atexit.register(_drain_at_exit)
    return _POOL


def _retire(task: Task) -> None:
    """The task's last signal arrived (GUI thread): stop keeping it alive."""
    with _LIVE_LOCK:
        _LIVE.discard(task)


def _drain_at_exit() -> None:
    """Cancel what still runs and give it a moment to end (waitForDone releases the GIL)."""
    with _LIVE_LOCK:
        live = list(_LIVE)
    for task in live:
        task.cancel()
    if _POOL is not None:
        _POOL.waitForDone(EXIT_WAIT_MS)


def live_tasks() -> int:
    """How many started tasks have not yet been retired (tests, diagnostics)."""
    with _LIVE_LOCK:
        return len(_LIVE)


class TaskRunner(QObject):
    """Runs at most ``threads`` of its tasks at once on the shared pool; the others queue.

    Dropping a runner never waits and never stops its running tasks: they finish on the shared
    pool; tasks still queued on a dropped runner are dropped with it.
    """

    def __init__(self, threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.threads = max(1, int(threads))
        self._running: set[Task] = set()
        self._queued: deque[Task] = deque()

    def start(self, task: Task) -> Task:
        """Start (or queue) a task; its signals must be connected before."""
        task.signals.ended.connect(_retire)  # a module function: never cleared by the collector
        task.signals.ended.connect(self._pump)  # a bound slot: disconnected when the runner goes
        self._queued.append(task)
        self._pump()
        return task

    def _pump(self, _ended: object = None) -> None:
        """Forget ended tasks and start queued ones while a thread of this runner is free."""
        self._running = {t for t in self._running if not t.done.is_set()}
        while self._queued and len(self._running) < self.threads:
            task = self._queued.popleft()
            with _LIVE_LOCK:
                _LIVE.add(task)
            self._running.add(task)
            shared_pool().start(task)

    def abandon(self) -> None:
        """The owner goes away: cancel all, drop the queue, cut the signals off its slots.

        Running tasks end on the shared pool at their next progress report; none of their
        signals reaches the owner's (soon deleted) objects afterwards.
        """
        self._queued.clear()
        for task in self._running:
            task.cancel()
            signals = task.signals
            for sig in (signals.progress, signals.item, signals.finished, signals.failed, signals.cancelled):
                try:
                    sig.disconnect()
                except TypeError:  # nothing was connected
                    pass

    def wait(self, msecs: int = 5000) -> bool:
        """Wait until this runner's tasks ended, queued ones included (tests, shutdown)."""
        deadline = time.monotonic() + max(0, msecs) / 1000
        while True:
            self._pump()
            if not self._running and not self._queued:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            next(iter(self._running)).done.wait(min(left, 0.05))  # releases the GIL


# --- the jobs the viewer runs -------------------------------------------------------------------
@dataclass(frozen=True)
class LoadedImage:
    """An image read by a worker, with display levels computed there too."""

    path: Path
    data: np.ndarray  # (frames, H, W) or (frames, H, W, 3)
    levels: tuple[float, float]
    notes: tuple[str, ...] = ()  # what the reader left out (e.g. reduced-resolution TIFF pages)

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
        notes: list[str] = []
        try:
            data = read_image(path, notes)
        except ImageReadError as exc:
            raise LoadError(exc.reason) from exc
        report(0, 0)
        return LoadedImage(Path(path), data, auto_levels(data, report), tuple(notes))

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
