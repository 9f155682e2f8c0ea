"""Edit > Postprocessing…: the clean-up options of the results, live on the canvas.

Minimum contour size (hidden on the canvas and left out of results; the label files change only on
Apply, one undo step), instance separation (preview, then apply as one undo step), the skeleton
overlay, object (track) numbers on the canvas, tracking of the open stack, and "Use as stack label".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PyQt5.QtCore import QObject, Qt, pyqtSignal
from PyQt5.QtWidgets import (
    QAction, QCheckBox, QDialog, QFormLayout, QGroupBox, QHBoxLayout, QLabel, QMenu, QProgressBar,
    QPushButton, QSlider, QSpinBox, QVBoxLayout, QWidget,
)

from mia_core.atomic import atomic_write_text
from mia_core.label_store import LabelStoreError, label_path, load_labels
from mia_core.labels import LabelSet
from mia_core.viewer.overlays import ObjectNumberLayer
from mia_core.viewer.skeleton_overlay import DEFAULT_KERNEL, KERNEL_RANGE, SkeletonOverlay
from mia_core.viewer.stack_label import StackLabelControl
from mia_core.viewer.workers import Task, TaskRunner

MAX_OBJECT = 2**31 - 1


def _component(registry: Any, name: str) -> Any | None:
    try:
        return registry.get("postprocessors", name)
    except Exception:  # noqa: BLE001 - a plugin left out: the option is disabled, the app goes on
        return None


def _overlay_plugin(registry: Any) -> Any | None:
    """The first postprocessor that yields an overlay (the skeleton)."""
    for p in registry.components("postprocessors"):
        if callable(getattr(p, "overlay", None)):
            return p
    return None


class PostprocessControl(QObject):
    """The postprocessing state of a main window: what the canvas hides, previews and overlays."""

    changed = pyqtSignal()  # preview made or dropped, tracking done: the window updates its buttons
    message = pyqtSignal(str)

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        reg = window.registry
        self.min_size_plugin = _component(reg, "min_size")
        self.separate_plugin = _component(reg, "separate")
        self.tracker = _component(reg, "tracking")
        overlay = _overlay_plugin(reg)
        self.skeleton = SkeletonOverlay(window.canvas, overlay, self) if overlay is not None else None
        self.numbers = ObjectNumberLayer(window.canvas.view)
        self.min_size = 3
        self.hide_small = False
        self.preview: LabelSet | None = None
        self.preview_source: LabelSet | None = None
        self.separating = False  # a separation preview is being computed
        self._pixels: dict[int, tuple[Any, int]] = {}
        self.runner = TaskRunner(1, self)
        self.task: Task | None = None
        window.object_number = 1
        window.canvas.contours.display_filter = self.shown_labels
        self.last_shown: LabelSet | None = None  # the labels as the canvas shows them now
        window.canvas.contours.listeners.append(self._shown)

    # --- what the canvas shows ---------------------------------------------------------------
    def _shown(self, labels: LabelSet | None) -> None:
        self.last_shown = labels
        self.numbers.show(labels)

    def shown_labels(self, labels: LabelSet) -> LabelSet:
        """The labels as the canvas shows them: the separation preview, without small contours."""
        if self.preview is not None:
            if self.preview_source is labels:
                labels = self.preview
            else:  # edited since: the preview no longer fits
                self.preview = self.preview_source = None
                self.changed.emit()
        if self.hide_small and self.min_size > 1:
            keep = [c for c in labels.contours if self.pixel_count(c) >= self.min_size]
            if len(keep) != len(labels):
                labels = LabelSet(keep, labels.shape)
        return labels

    def set_overlays_visible(self, visible: bool) -> None:
        """View > Show contours: skeletons and numbers go and come with the contours."""
        if self.skeleton is not None:
            self.skeleton.layer.item.setVisible(visible)
        self.numbers.set_hidden(not visible)

    def pixel_count(self, contour: Any) -> int:
        """A contour's pixels, remembered while the contour lives (edits make new contours)."""
        hit = self._pixels.get(id(contour))
        if hit is None or hit[0] is not contour:
            if len(self._pixels) > 100_000:
                self._pixels.clear()
            hit = self._pixels[id(contour)] = (contour, contour.pixel_count)
        return hit[1]

    def set_min_size(self, n: int, hide: bool) -> None:
        """Hide contours under ``n`` pixels on the canvas (and leave them out of the results)."""
        self.min_size, self.hide_small = int(n), bool(hide)
        self.window.canvas.contours.refresh()
        if hide:
            self._sync_results(int(n))

    def _sync_results(self, n: int) -> None:
        """The Results window exports with the same minimum size."""
        from mia_core.viewer.results_window import settings_path

        results = getattr(self.window, "results_window", None)
        if results is not None:
            results.min_size.setValue(n)
        folder = self.window.folder
        if folder is None:
            return
        path = settings_path(Path(folder))
        try:
            raw = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
            if not isinstance(raw, dict):
                raw = {}
            raw["min_size"] = n
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(path, json.dumps(raw, indent=1))
        except (OSError, ValueError) as exc:
            self.message.emit(f"Could not remember the minimum size: {exc}")

    # --- edits -------------------------------------------------------------------------------
    def apply_min_size(self) -> bool:
        """Delete the contours under the minimum size from this image's labels (one undo step)."""
        doc = self.window.document
        if doc is None or self.min_size_plugin is None:
            return False
        new = self.min_size_plugin.apply(doc.labels, min_size=self.min_size)
        removed = len(doc.labels) - len(new)
        done = self.window._run_edit("Minimum size", lambda: doc.replace(new))
        self.message.emit(f"Removed {removed} contour(s) under {self.min_size} pixels; Ctrl+Z brings them back"
                          if done else f"No contour under {self.min_size} pixels")
        return done

    def preview_separation(self, min_distance: int) -> Task | None:
        """Split touching objects in a worker and show the result (nothing is saved yet)."""
        doc = self.window.document
        if doc is None or self.separate_plugin is None:
            return None
        self.drop_preview()
        source, plugin = doc.labels, self.separate_plugin

        def job(report: Any) -> LabelSet:
            report(0, 0)
            return plugin.apply(source, min_distance=int(min_distance))

        self.separating = True
        task = self._run(Task(job, "Separating objects"), lambda result: self._previewed(source, result))
        task.signals.failed.connect(lambda *_: self._previewed(source, None))
        task.signals.cancelled.connect(lambda: self._previewed(source, None))
        return task

    def _previewed(self, source: LabelSet, result: LabelSet | None) -> None:
        self.separating = False
        doc = self.window.document
        if result is None:
            self.changed.emit()
            return
        if doc is None or doc.labels is not source:
            self.message.emit("The labels changed while separating; preview again")
            self.changed.emit()
            return
        self.preview, self.preview_source = result, source
        self.window.canvas.contours.refresh()
        self.message.emit(f"Preview: {len(source)} contour(s) become {len(result)}; Apply saves them")
        self.changed.emit()

    def drop_preview(self) -> None:
        """Show the labels as they are again."""
        if self.preview is not None:
            self.preview = self.preview_source = None
            self.window.canvas.contours.refresh()
            self.changed.emit()

    def apply_separation(self) -> bool:
        """Save the previewed separation as one undo step."""
        doc, new = self.window.document, self.preview
        if doc is None or new is None or self.preview_source is not doc.labels:
            return False
        self.preview = self.preview_source = None
        done = self.window._run_edit("Separation", lambda: doc.replace(new))
        self.changed.emit()
        if done:
            self.message.emit("Separated objects saved; Ctrl+Z joins them again")
        return done

    def track_stack(self, max_distance: float, gap: int) -> Task | None:
        """Track the open stack's frames (or the folder's single images, in natural order) in a
        worker and write the track ids into their label files as object numbers."""
        w = self.window
        img = w.image
        if img is None or self.tracker is None:
            return None
        if img.frames > 1 and w.session.is_shared(img.path, img.frames):
            self.message.emit("This stack has one label for every frame: there is nothing to link")
            return None
        docs = [w.session.document(img.path, img.shape, f)[0] for f in range(img.frames)] if img.frames > 1 \
            else self._folder_documents()
        frames = [d.labels for d in docs]
        tracker = self.tracker

        def job(report: Any) -> Any:
            report(0, 0)
            return tracker.apply_sequence(frames, max_distance=max_distance, gap=gap)

        return self._run(Task(job, "Tracking"), lambda result: self._tracked(docs, frames, result))

    def _folder_documents(self) -> list[Any]:
        """The documents of the folder's readable single images, naturally sorted (img2 before img10)."""
        from mia_core.images import ImageReadError, image_shape
        from mia_core.results import natural_key

        w = self.window
        docs = []
        for path in sorted(w.image_list.paths, key=natural_key):
            if w.image_list.state(path) == "unreadable" or path in getattr(w, "_label_clashes", {}):
                continue
            try:
                shape = image_shape(path)
            except (ImageReadError, OSError):
                continue
            if shape[0] == 1:
                docs.append(w.session.document(path, (int(shape[1]), int(shape[2])), None)[0])
        return docs

    def _tracked(self, docs: list[Any], frames: list[LabelSet], result: Any) -> None:
        changed = 0
        for doc, before in zip(docs, frames):
            if doc.labels is not before:
                self.message.emit(f"{doc.path.name} changed while tracking; track again")
                return
        try:
            for doc, after in zip(docs, result.frames):
                changed += bool(doc.replace(after))
        except LabelStoreError as exc:
            self.message.emit(f"Track numbers not saved: {exc}")
            return
        tracks = {c.object_id for ls in result.frames for c in ls.contours}
        what = "frames" if len({d.image_path for d in docs}) == 1 else "images"
        self.message.emit(f"{len(tracks)} track(s) over {len(docs)} {what}; numbers written to "
                          f"{changed} label file(s) (Ctrl+Z undoes it per frame)")
        self.changed.emit()

    def next_object_number(self) -> int:
        """One more than the largest object number of the open image (every frame of a stack)."""
        w = self.window
        img = w.image
        if img is None:
            return 1
        keys = [None] if img.frames == 1 or w.session.is_shared(img.path, img.frames) else range(img.frames)
        top = 0
        for k in keys:
            doc = w.session.docs.get((img.path, k))
            labels = doc.labels if doc is not None else load_labels(label_path(img.path, k))
            top = max([top, *(c.object_id for c in labels.contours)])
        return min(top + 1, MAX_OBJECT)

    def _run(self, task: Task, done: Any) -> Task:
        if self.task is not None:
            self.task.cancel()
        self.task = task
        task.signals.finished.connect(done)
        task.signals.failed.connect(lambda msg, _tb: self.message.emit(f"{task.label} failed: {msg}"))
        task.signals.ended.connect(lambda _t: setattr(self, "task", None) if self.task is task else None)
        return self.runner.start(task)

    def shutdown(self) -> None:
        """The window closes: stop background work."""
        self.runner.abandon()
        if self.skeleton is not None:
            self.skeleton.shutdown()


class PostprocessWindow(QDialog):
    """The options of :class:`PostprocessControl`, as widgets."""

    def __init__(self, control: PostprocessControl, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Postprocessing")
        self.control = control
        c = control
        # minimum size
        self.min_size = QSpinBox()
        self.min_size.setRange(0, 10**7)
        self.min_size.setValue(c.min_size)
        self.hide_small = QCheckBox("Hide smaller contours (and leave them out of results)")
        self.apply_min = QPushButton("Delete them from the labels")
        # separation
        self.min_distance = QSpinBox()
        self.min_distance.setRange(1, 1000)
        self.min_distance.setValue(20)
        self.preview = QPushButton("Preview")
        self.preview.setCheckable(True)
        self.apply_separation = QPushButton("Apply")
        # skeleton
        self.skeleton = QCheckBox("Show skeletons")
        self.kernel = QSlider(Qt.Horizontal)
        self.kernel.setRange(*KERNEL_RANGE)
        self.kernel.setSingleStep(2)
        self.kernel.setPageStep(2)
        self.kernel.setValue(DEFAULT_KERNEL)
        self.kernel_label = QLabel(str(DEFAULT_KERNEL))
        # objects
        self.numbers = QCheckBox("Show object numbers")
        self.object_number = QSpinBox()
        self.object_number.setRange(1, MAX_OBJECT)
        self.object_number.setToolTip("The number the assign tool (F4, right click: object number mode) gives")
        self.new_number = QPushButton("New number")
        self.max_distance = QSpinBox()
        self.max_distance.setRange(1, 10**5)
        self.max_distance.setValue(35)
        self.gap = QSpinBox()
        self.gap.setRange(0, 1000)
        self.gap.setValue(1)
        self.track = QPushButton("Track this stack (or the folder's images)")
        self.stack_label = QPushButton("Use this frame as stack label…")
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        for b in (self.apply_min, self.preview, self.apply_separation, self.new_number, self.track, self.stack_label):
            b.setAutoDefault(False)

        size_box = QGroupBox("Minimum contour size")
        f = QFormLayout(size_box)
        f.addRow("Pixels", self.min_size)
        f.addRow(self.hide_small)
        f.addRow(self.apply_min)
        sep_box = QGroupBox("Instance separation")
        f = QFormLayout(sep_box)
        f.addRow("Minimum seed distance (px)", self.min_distance)
        row = QHBoxLayout()
        row.addWidget(self.preview)
        row.addWidget(self.apply_separation)
        f.addRow(row)
        skel_box = QGroupBox("Skeleton")
        f = QFormLayout(skel_box)
        f.addRow(self.skeleton)
        row = QHBoxLayout()
        row.addWidget(self.kernel, 1)
        row.addWidget(self.kernel_label)
        f.addRow("Median blur kernel", row)
        obj_box = QGroupBox("Objects and tracks")
        f = QFormLayout(obj_box)
        f.addRow(self.numbers)
        row = QHBoxLayout()
        row.addWidget(self.object_number, 1)
        row.addWidget(self.new_number)
        f.addRow("Object number to assign", row)
        f.addRow("Largest jump (px)", self.max_distance)
        f.addRow("Frames an object may miss", self.gap)
        f.addRow(self.track)
        f.addRow(self.stack_label)
        layout = QVBoxLayout(self)
        for w in (size_box, sep_box, skel_box, obj_box, self.progress, self.status):
            layout.addWidget(w)

        self.skeleton.setEnabled(c.skeleton is not None)
        self.kernel.setEnabled(c.skeleton is not None)
        if c.skeleton is None:
            self.skeleton.setToolTip("No skeleton postprocessor is loaded")
        for widget, plugin in ((self.apply_min, c.min_size_plugin), (self.preview, c.separate_plugin),
                               (self.track, c.tracker)):
            widget.setEnabled(plugin is not None)

        self.min_size.valueChanged.connect(self._min_size)
        self.hide_small.toggled.connect(self._min_size)
        self.apply_min.clicked.connect(c.apply_min_size)
        self.preview.toggled.connect(self._preview)
        self.apply_separation.clicked.connect(c.apply_separation)
        self.skeleton.toggled.connect(lambda on: c.skeleton.set_enabled(on))
        self.kernel.valueChanged.connect(self._kernel)
        self.numbers.toggled.connect(self._numbers)
        self.object_number.valueChanged.connect(lambda n: setattr(c.window, "object_number", int(n)))
        self.new_number.clicked.connect(lambda: self.object_number.setValue(c.next_object_number()))
        self.track.clicked.connect(self._track)
        self.stack_label.clicked.connect(lambda: c.window.stack_label.use_current_frame())
        c.changed.connect(self._sync)
        c.message.connect(self.status.setText)
        if c.skeleton is not None:
            c.skeleton.progress.connect(self._progress)
        self.object_number.setValue(int(getattr(c.window, "object_number", 1)) or 1)
        self.numbers.setChecked(c.numbers.visible)
        self.hide_small.setChecked(c.hide_small)
        self.skeleton.setChecked(bool(c.skeleton and c.skeleton.enabled))
        self._sync()

    def _min_size(self, *_: object) -> None:
        self.control.set_min_size(self.min_size.value(), self.hide_small.isChecked())

    def _preview(self, on: bool) -> None:
        if on:
            task = self.control.preview_separation(self.min_distance.value())
            if task is None:
                self.preview.setChecked(False)
            else:
                task.signals.progress.connect(self._progress)
        else:
            self.control.drop_preview()

    def _kernel(self, value: int) -> None:
        odd = int(value) | 1
        if odd != value:
            self.kernel.setValue(odd)  # median blur kernels are odd
            return
        self.kernel_label.setText(str(odd))
        if self.control.skeleton is not None:
            self.control.skeleton.set_kernel(odd)

    def _numbers(self, on: bool) -> None:
        self.control.window.actions_postprocess.show_numbers.setChecked(on)

    def _track(self) -> None:
        task = self.control.track_stack(float(self.max_distance.value()), self.gap.value())
        if task is not None:
            task.signals.progress.connect(self._progress)
            self.status.setText("Tracking…")

    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 0))
        self.progress.setValue(done)

    def _sync(self) -> None:
        c = self.control
        has_preview = c.preview is not None
        self.apply_separation.setEnabled(has_preview)
        if not has_preview and self.preview.isChecked() and not c.separating:
            self.preview.blockSignals(True)
            self.preview.setChecked(False)
            self.preview.blockSignals(False)
        self.numbers.blockSignals(True)
        self.numbers.setChecked(c.numbers.visible)
        self.numbers.blockSignals(False)


class PostprocessActions:
    """The menu items of postprocessing (View > Show object numbers, Edit > …)."""

    def __init__(self, window: Any, edit: QMenu, view: QMenu) -> None:
        self.window = window
        self.open = QAction("Postprocessing…", window)
        self.open.setObjectName("postprocessing")
        self.open.triggered.connect(lambda _c=False: open_postprocessing(window))
        self.use_as_stack_label = QAction("Use as stack label…", window)
        self.use_as_stack_label.setObjectName("use_as_stack_label")
        self.use_as_stack_label.setToolTip("The contours of this frame become the label of every frame of the stack")
        self.use_as_stack_label.triggered.connect(lambda _c=False: window.stack_label.use_current_frame())
        self.confirm_stack_label = QAction("Confirm stack label (delete replaced per-frame labels)", window)
        self.confirm_stack_label.setObjectName("confirm_stack_label")
        self.confirm_stack_label.setEnabled(False)
        self.confirm_stack_label.triggered.connect(lambda _c=False: window.stack_label.confirm())
        self.show_numbers = QAction("Show object numbers", window)
        self.show_numbers.setObjectName("show_object_numbers")
        self.show_numbers.setCheckable(True)
        self.show_numbers.toggled.connect(self._numbers)
        edit.addSeparator()
        for a in (self.open, self.use_as_stack_label, self.confirm_stack_label):
            edit.addAction(a)
        view.addAction(self.show_numbers)

    def _numbers(self, on: bool) -> None:
        w = self.window
        w.postprocess.numbers.set_visible(on, w.postprocess.last_shown)
        dialog = getattr(w, "postprocess_window", None)
        if dialog is not None:
            dialog._sync()


def build_postprocess_menu(window: Any, edit: QMenu, view: QMenu, show_contours: QAction | None = None
                           ) -> PostprocessActions:
    """Give a main window its postprocessing control, stack-label control and menu items; hiding the
    contours (``show_contours``) hides what is drawn over them too."""
    window.postprocess = PostprocessControl(window)
    if show_contours is not None:
        show_contours.toggled.connect(window.postprocess.set_overlays_visible)
    window.stack_label = StackLabelControl(window)
    acts = PostprocessActions(window, edit, view)
    window.stack_label.confirm_action = acts.confirm_stack_label
    window.actions_postprocess = acts
    return acts


def open_postprocessing(window: Any) -> PostprocessWindow:
    """Show the Postprocessing window (one per main window, kept while open)."""
    dialog = getattr(window, "postprocess_window", None)
    if dialog is None:
        dialog = PostprocessWindow(window.postprocess, window)
        window.postprocess_window = dialog
    dialog.show()
    dialog.raise_()
    return dialog
