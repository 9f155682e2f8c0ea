"""The app side of the labelling assistants: the Smart-mode switch, the Assist menu, the tool
context extras (assistants, field of view, worker runner, status messages) and DEXTR training.

Assistants run on a worker (never on the GUI thread) with the status bar's progress; Escape
cancels (the result is dropped); each result is one undo step of the document it was asked for.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any, Callable

from PyQt5.QtCore import QObject, QPoint, QTimer, pyqtSignal
from PyQt5.QtWidgets import QAction, QFileDialog, QMenu

from mia_core.api import AssistantError, ToolContext
from mia_core.assist import SmartMode, SmartRequest
from mia_core.label_store import LabelStoreError
from mia_core.viewer.workers import Task, TaskRunner, while_alive

log = logging.getLogger(__name__)
#: Where the app looks for (and Train DEXTR writes) a folder's DEXTR model.
DEXTR_FOLDER = "DEXTR_model"
#: Assist > Train DEXTR's settings: MIA's (512 px input, MobileNetV2 width 1.0), 2000 steps.
TRAIN_DEFAULTS = {"steps": 2000, "input_size": 512, "width": 1.0, "backbone": "mobilenetv2"}
TRAIN_SHORTCUT = "Ctrl+Shift+D"
#: Pause after the view stops moving before Smart mode re-evaluates it with frozen models.
VIEW_SETTLE_MS = 400


class AssistControl(QObject):
    """Owns Smart mode, the assistants' worker and the Assist menu of one main window."""

    finished = pyqtSignal(str)  # what an assistant run did (tests wait on it)

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.w = window
        self.assistants: dict[str, Any] = {a.name: a for a in window.registry.components("assistants")}
        grabcut = self.assistants.get("grabcut")
        self.smart = SmartMode(grabcut) if grabcut is not None else None
        self.runner = TaskRunner(threads=1, parent=self)
        self.train_runner = TaskRunner(threads=1, parent=self)
        self.task: Task | None = None
        self.train_task: Task | None = None
        self.train_options: dict[str, Any] = dict(TRAIN_DEFAULTS)
        self._generation = 0
        self._last_view: tuple[int, int, int, int] | None = None
        self.dextr_model: Path | None = None
        self.smart_action = QAction("Smart mode", window)
        self.smart_action.setObjectName("smart_mode")
        self.smart_action.setCheckable(True)
        self.smart_action.setShortcut("Ctrl+M")
        self.smart_action.setToolTip("Smart mode (Ctrl+M): strokes of draw, polygon and brush are GrabCut hints "
                                     "(add / expand = object, delete / erase = background) in the field of view")
        self.smart_action.setEnabled(self.smart is not None)
        self.smart_action.toggled.connect(self._smart_toggled)
        window.addAction(self.smart_action)
        self.train_action = QAction("Train DEXTR on this folder…", window)
        self.train_action.setObjectName("train_dextr")
        self.train_action.setShortcut(TRAIN_SHORTCUT)
        self.train_action.setToolTip(f"Train DEXTR ({TRAIN_SHORTCUT}) on the contours of this folder, in the "
                                     "background; Escape cancels")
        self.train_action.setEnabled("dextr" in self.assistants)
        self.train_action.triggered.connect(lambda _c=False: self.train_dextr())
        window.addAction(self.train_action)
        self.choose_action = QAction("DEXTR model…", window)
        self.choose_action.setObjectName("choose_dextr")
        self.choose_action.triggered.connect(lambda _c=False: self.choose_dextr_model())
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.timeout.connect(self._view_settled)
        window.canvas.view.sigRangeChanged.connect(lambda *_: self._settle.start(VIEW_SETTLE_MS))

    def build_menu(self, menu: QMenu) -> None:
        """The Assist menu."""
        menu.addAction(self.smart_action)
        menu.addSeparator()
        menu.addAction(self.train_action)
        menu.addAction(self.choose_action)

    # --- what tools get ------------------------------------------------------------------------
    def view(self) -> tuple[int, int, int, int] | None:
        """The field of view in image pixels (x0, y0, x1, y1), clipped to the image."""
        frame = self.w.canvas.frame
        if frame is None:
            return None
        vp = self.w.canvas.viewport()
        (ax, ay), (bx, by) = self.w.canvas.widget_to_image(QPoint(0, 0)), self.w.canvas.widget_to_image(
            QPoint(vp.width(), vp.height()))
        h, w = frame.shape[:2]
        x0, x1 = sorted((ax, bx))
        y0, y1 = sorted((ay, by))
        x0, y0 = max(int(math.floor(x0 + 0.5)), 0), max(int(math.floor(y0 + 0.5)), 0)
        x1, y1 = min(int(math.ceil(x1 + 0.5)), w), min(int(math.ceil(y1 + 0.5)), h)
        return (x0, y0, x1, y1) if x0 < x1 and y0 < y1 else None

    def key(self) -> tuple[Any, ...]:
        """Which session applies: image, frame and class (a change drops hints and models)."""
        image = self.w.image
        return (str(image.path) if image else "", self.w.frame, self.w.class_panel.active_class)

    def extend(self, ctx: ToolContext) -> ToolContext:
        """Give a tool context the assistants, the view, the worker and the status bar."""
        ctx.assistants = dict(self.assistants)
        ctx.view = self.view()
        ctx.run = self.run
        ctx.message = self.w.status.info
        ctx.settings["levels"] = tuple(self.w.levels.levels) if self.w.levels.levels else None
        ctx.settings["dextr_model"] = self._dextr_folder()
        tool = self.w.tools.current
        if self.smart_on and tool is not None and tool.name in SmartMode.TOOLS and self.w.image is not None:
            ctx.session = self.smart.session(self.key())
            ctx.document = self.smart.recorder(ctx.document, self.w.image.shape, self.key(), self._stroke)
        return ctx

    @property
    def smart_on(self) -> bool:
        """True while the Smart-mode switch is on."""
        return self.smart is not None and self.smart_action.isChecked()

    def _dextr_folder(self) -> Path | None:
        if self.dextr_model is not None:
            return self.dextr_model
        if self.w.folder is not None and (self.w.folder / DEXTR_FOLDER).is_dir():
            return self.w.folder / DEXTR_FOLDER
        return None

    # --- running ---------------------------------------------------------------------------------
    def run(self, job: Callable[[], Any], done: Callable[[Any], None], label: str = "Assistant…") -> None:
        """Run ``job`` on the worker; ``done(result)`` on the GUI thread unless cancelled meanwhile."""
        self.cancel(quiet=True)
        self._generation += 1
        generation = self._generation
        task = Task(lambda report: job(), label)
        document = self.w.document

        def finished(result: Any) -> None:
            if generation != self._generation or document is not self.w.document:
                return  # cancelled, or the user moved to another image
            self.task = None
            try:
                done(result)
            except LabelStoreError as exc:
                self.w.status.error(f"Assistant result not saved: {exc}")
            except AssistantError as exc:
                self.w.status.error(str(exc))
            self.finished.emit(self.w.status.message.text())

        def failed(message: str, trace: str) -> None:
            if generation != self._generation:
                return
            self.task = None
            log.error("assistant failed:\n%s", trace)
            self.w.status.error(message)
            self.finished.emit(message)

        def cancelled() -> None:
            """The bar's Cancel ends as Escape does (Escape's cancel() has already moved on)."""
            if generation == self._generation and self.cancel():
                self.finished.emit(self.w.status.message.text())

        task.signals.finished.connect(finished)
        task.signals.failed.connect(failed)
        task.signals.cancelled.connect(cancelled)
        self.task = task
        self.w.status.progress.track(task, delay_ms=0)
        self.runner.start(task)

    @property
    def busy(self) -> bool:
        """True while an assistant runs."""
        return self.task is not None

    def cancel(self, quiet: bool = False) -> bool:
        """Escape: drop the running assistant's result (the labels stay as they are)."""
        if self.task is None:
            return False
        self.task.cancel()  # the worker finishes its call, then reports "cancelled", not a result
        self.task = None
        self._generation += 1
        if not quiet:
            self.w.status.info("Assistant cancelled; labels unchanged")
        return True

    def reset(self) -> None:
        """Forget Smart-mode hints and colour models (reset, switch off)."""
        if self.smart is not None:
            self.smart.sessions.reset()
        self._last_view = None

    # --- Smart mode ------------------------------------------------------------------------------
    def _smart_toggled(self, on: bool) -> None:
        self.reset()
        self.w.status.info("Smart mode on: draw over the object (add / expand) and the background "
                           "(delete / erase); GrabCut runs after each stroke" if on else "Smart mode off")

    def _stroke(self) -> None:
        """A hint stroke was recorded: run GrabCut on the field of view (after the tool returns)."""
        QTimer.singleShot(0, lambda: self._run_smart(frozen=False))

    def _run_smart(self, frozen: bool) -> None:
        if not self.smart_on or self.w.document is None or self.w.image is None:
            return
        frame = self.w.current_frame()
        try:
            request = self.smart.request(frame, self.w.document.labels, self.w.class_panel.active_class,
                                         self.view(), self.key(), self.w.levels.levels, frozen=frozen)
        except AssistantError as exc:
            if not frozen:
                self.w.status.error(str(exc))
            return
        self._last_view = request.box
        document = self.w.document

        def done(mask: Any, req: SmartRequest = request) -> None:
            changed = self.smart.apply(document, req, mask)
            self.w.status.info("Smart mode: class updated in the field of view (Ctrl+Z undoes)" if changed
                               else "Smart mode: no change")

        self.run(lambda: self.smart.run(request), done, "Smart mode: GrabCut…")

    def _view_settled(self) -> None:
        """The view moved: evaluate the kept colour models frozen on the new view (no new stroke)."""
        if not self.smart_on or self.busy:
            return
        session = self.smart.sessions.current
        if session is None or session.key != self.key() or "models" not in session.state:
            return
        view = self.view()
        if view is None or view == self._last_view:
            return
        self._run_smart(frozen=True)

    # --- DEXTR model ----------------------------------------------------------------------------
    def choose_dextr_model(self, folder: str | Path | None = None) -> None:
        """Assist > DEXTR model…: use a model folder written by mia dextr train."""
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self.w, "DEXTR model folder", str(self.w.folder or Path.home()))
            if not folder:
                return
        self.dextr_model = Path(folder)
        self.w.status.info(f"DEXTR model: {self.dextr_model}")

    def train_dextr(self, **options: Any) -> Task | None:
        """Assist > Train DEXTR: train on this folder's contours in a worker (progress in the status
        bar, Escape cancels), save to FOLDER/DEXTR_model; ``options`` override :attr:`train_options`."""
        dextr = self.assistants.get("dextr")
        if dextr is None or self.w.folder is None:
            self.w.status.error("Train DEXTR: open a folder of labelled images first")
            return None
        if self.train_task is not None:
            self.w.status.info("DEXTR is already training (Escape cancels it)")
            return None
        from mia_core.assist import labelled_pictures

        settings = {**self.train_options, **options}
        folder = self.w.folder
        out = folder / DEXTR_FOLDER
        registry = self.w.registry

        def job(report: Callable[[int, int], None]) -> str:
            labelled, _skipped = labelled_pictures([folder])
            if not any(c.class_id != 0 for _, labels in labelled for c in labels):
                raise AssistantError("Train DEXTR: no labelled objects in this folder; label some objects first")
            dextr.train(labelled, out, progress=lambda i, n, _loss: report(i, n), registry=registry, **settings)
            return str(out)

        task = Task(job, "Training DEXTR…")
        task.signals.finished.connect(while_alive(
            self, lambda path: self.w.status.info(f"DEXTR model saved to {path}; the DEXTR tool uses it now")))
        task.signals.failed.connect(while_alive(
            self, lambda msg, _tb: self.w.status.error(f"Train DEXTR failed: {msg}")))
        task.signals.cancelled.connect(lambda: self.w.status.info("DEXTR training cancelled; nothing saved"))
        task.signals.ended.connect(while_alive(self, lambda _t: self._training_ended(task)))
        self.train_task = task
        self.w.status.progress.track(task, delay_ms=0)
        self.w.status.info(f"Training DEXTR on the contours of {folder.name} ({settings['steps']} steps); Escape cancels")
        self.train_runner.start(task)
        return task

    def _training_ended(self, task: Task) -> None:
        if self.train_task is task:
            self.train_task = None

    @property
    def training(self) -> bool:
        """True while DEXTR trains."""
        return self.train_task is not None

    def cancel_training(self) -> bool:
        """Escape while DEXTR trains: stop at the next step, save nothing."""
        if self.train_task is None or self.train_task.is_cancelled:
            return False
        self.train_task.cancel()
        self.w.status.info("Cancelling DEXTR training…")
        return True
