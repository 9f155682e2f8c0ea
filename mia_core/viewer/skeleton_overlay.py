"""The skeleton overlay: computed in a worker for the visible contours only, cached per contour.

Label edits return new Contour objects only for the contours they change, so a cache keyed by the
contour object (and the kernel) holds until that contour changes: an edit recomputes one skeleton.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PyQt5.QtCore import QObject, QTimer, pyqtSignal

from mia_core.labels import LabelSet
from mia_core.viewer.overlays import SkeletonLayer, pixels_path
from mia_core.viewer.workers import Task, TaskRunner

#: Contours per overlay call in the worker: progress and cancel between chunks.
CHUNK = 32
DEFAULT_KERNEL = 11
KERNEL_RANGE = (1, 41)


class SkeletonOverlay(QObject):
    """Keeps the skeleton layer of a canvas in step with the contours shown and the view."""

    computed = pyqtSignal(int)  # contours whose skeleton a worker just computed
    progress = pyqtSignal(int, int)

    def __init__(self, canvas: Any, plugin: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.canvas, self.plugin = canvas, plugin
        self.layer = SkeletonLayer(canvas.view)
        self.enabled = False
        self.kernel = DEFAULT_KERNEL
        self.labels: LabelSet | None = None
        # (id(contour), kernel) -> (contour, (pixels, path)); the contour is kept so its id stays unique
        self.cache: dict[tuple[int, int], tuple[Any, tuple[np.ndarray, Any]]] = {}
        self.computations = 0  # contours computed so far (the cache's effect shows here)
        self.runner = TaskRunner(1, self)
        self.task: Task | None = None
        self._again = False
        self.error: str | None = None  # why the last computation failed (not retried until a change)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(80)  # pans and zooms come in bursts: update once they settle
        self._timer.timeout.connect(self.update)
        canvas.contours.listeners.append(self._shown)
        canvas.view.sigRangeChanged.connect(lambda *_: self._timer.start() if self.enabled else None)

    @property
    def busy(self) -> bool:
        """True while a worker computes skeletons."""
        return self.task is not None

    def set_enabled(self, on: bool) -> None:
        """Skeletons on or off (off by default: they cost a blur and a skeleton per contour)."""
        self.enabled = bool(on)
        self.update()

    def set_kernel(self, kernel: int) -> None:
        """The median blur's kernel (odd, 1..41)."""
        kernel = int(min(max(kernel, KERNEL_RANGE[0]), KERNEL_RANGE[1])) | 1
        if kernel != self.kernel:
            self.kernel = kernel
            self.error = None
            self.update()

    def _shown(self, labels: Any) -> None:
        self.labels = labels
        live = {id(c) for c in getattr(labels, "contours", ())}
        # Drop contours that are no longer shown (edited, deleted, another image).
        self.cache = {k: v for k, v in self.cache.items() if k[0] in live}
        self.error = None
        self.update()

    def visible_contours(self) -> list[Any]:
        """The contours shown whose bounding box meets the visible part of the image."""
        if self.labels is None:
            return []
        r = self.canvas.view.viewRect()
        x0, y0, x1, y1 = r.left(), r.top(), r.right(), r.bottom()
        return [c for c in self.labels.contours
                if c.bbox[0] <= x1 and c.bbox[2] >= x0 and c.bbox[1] <= y1 and c.bbox[3] >= y0]

    def _cached(self, c: Any) -> tuple[np.ndarray, Any] | None:
        hit = self.cache.get((id(c), self.kernel))
        return hit[1] if hit is not None and hit[0] is c else None

    def update(self) -> None:
        """Draw the cached skeletons of the visible contours and compute the missing ones in a worker."""
        if not self.enabled:
            self.layer.clear()
            return
        visible = self.visible_contours()
        self.layer.show(s for c in visible if (s := self._cached(c)) is not None)
        todo = [c for c in visible if self._cached(c) is None]
        if not todo or self.error is not None:
            return
        if self.task is not None:
            self._again = True  # after the running one
            return
        kernel, plugin, shape = self.kernel, self.plugin, getattr(self.labels, "shape", None)

        def job(report: Any) -> list[tuple[Any, np.ndarray]]:
            out: list[tuple[Any, np.ndarray]] = []
            for i in range(0, len(todo), CHUNK):
                report(i, len(todo))
                part = todo[i : i + CHUNK]
                out += zip(part, plugin.overlay(LabelSet(part, shape), skeleton_kernel=kernel))
            report(len(todo), len(todo))
            return out

        self.task = Task(job, "Skeletons")
        self.task.signals.progress.connect(self.progress.emit)
        self.task.signals.finished.connect(lambda res, k=kernel: self._done(res, k))
        self.task.signals.failed.connect(lambda msg, _tb: setattr(self, "error", msg))
        self.task.signals.ended.connect(self._ended)
        self.runner.start(self.task)

    def _done(self, results: list[tuple[Any, np.ndarray]], kernel: int) -> None:
        for c, pixels in results:
            self.cache[(id(c), kernel)] = (c, (pixels, pixels_path(pixels)))
        self.computations += len(results)
        self.computed.emit(len(results))

    def _ended(self, _task: object) -> None:
        self.task = None
        self._again = False
        self.update()  # draws what came, starts what the view needs now

    def shutdown(self) -> None:
        """The window closes: cancel a running computation."""
        self.runner.abandon()
