"""The Model menu: train, load a model, and predict the current image, the visible part or the folder.

Predictions run in a worker with the status bar's progress bar and Cancel. Results are written on
the GUI thread: an image whose labels are open in the app gets them through its document (one undo
step, Ctrl+Z takes the prediction back); other images get their label files directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtGui import QKeySequence
from PyQt5.QtWidgets import QAction, QApplication, QFileDialog, QMenu, QMessageBox

from mia_core.label_store import LabelStoreError, label_path, save_labels
from mia_core.labels import LabelSet
from mia_core.viewer.predict_jobs import (
    Box,
    FolderOutcome,
    FramePrediction,
    LoadedModel,
    channel_mismatch,
    load_model_job,
    merge_in_box,
    predict_folder_job,
    predict_frame_job,
    visible_box,
)
from mia_core.viewer.task_slot import StatusTaskSlot
from mia_core.viewer.workers import Task, while_alive

NO_MODEL = "No model loaded: train one (Model > Train…) or load one (Model > Load model…)"


@dataclass
class ModelActions:
    """The Model menu's actions (tests and the tool bar refer to them)."""

    train: QAction
    load: QAction
    predict_image: QAction
    predict_view: QAction
    predict_folder: QAction
    tta: QAction  # checkable: predictions average over flips


class ModelControl(StatusTaskSlot):
    """The loaded model and the prediction and training jobs of one main window."""

    modelChanged = pyqtSignal(object)  # LoadedModel

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.model: LoadedModel | None = None
        self.training: Any = None  # the TrainingWindow, made on first use
        self.actions: ModelActions | None = None

    # --- training ----------------------------------------------------------------------------
    def open_training(self) -> Any:
        """Model > Train…: show the training window for the open folder."""
        if self.training is None:
            from mia_core.viewer.training_window import TrainingWindow

            self.training = TrainingWindow(self.window.registry, self.window, self._training_source)
            self.training.modelSaved.connect(self._trained)
        if not self.training.running:
            self.training.set_source(*self._training_source())
        self.training.show()
        self.training.raise_()
        self.training.activateWindow()
        return self.training

    def _training_source(self) -> tuple[Path | None, list[str]]:
        """The open folder and its class names: what a training run learns from."""
        return self.window.folder, [c.name for c in self.window.class_panel.classes]

    def _trained(self, model_dir: Path) -> None:
        """A run saved a model: use it for predictions."""
        if Path(model_dir).is_dir():
            self.load_model(Path(model_dir))

    # --- loading -----------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        """True while a model loads or a prediction runs."""
        return self.task is not None

    def choose_model(self) -> None:
        """Model > Load model…: pick a model folder written by training."""
        start = str(self.model.folder if self.model else (self.window.folder or Path.home()))
        folder = QFileDialog.getExistingDirectory(self.window, "Load a model folder", start)
        if folder:
            self.load_model(Path(folder))

    def load_model(self, folder: Path) -> Task | None:
        """Rebuild a saved model in a worker (the engine is imported then)."""
        if self._refuse_if_busy():
            return None
        task = Task(load_model_job(Path(folder), self.window.registry), f"Loading model {Path(folder).name}")
        task.signals.finished.connect(self._loaded)
        task.signals.failed.connect(while_alive(self, lambda msg, _tb: self._fail(f"Cannot load model: {msg}")))
        return self._start(task)

    def _loaded(self, model: LoadedModel) -> None:
        self.task = None
        self.model = model
        if self.actions is not None:
            self.actions.load.setToolTip(f"Loaded: {model.description}")
        self.modelChanged.emit(model)
        self._done(f"Model loaded: {model.description}{model.postprocessing_note}")

    # --- predicting --------------------------------------------------------------------------
    @property
    def tta(self) -> bool:
        """Whether predictions average over test-time flips (Model > Test-time flips)."""
        return self.actions is not None and self.actions.tta.isChecked()

    def set_tta(self, on: bool) -> None:
        """Model > Test-time flips: remembered in the user settings."""
        self.window.settings.tta = on

    def _ready(self) -> LoadedModel | None:
        """The model, or None after saying why nothing can be predicted now."""
        if self._refuse_if_busy():
            return None
        if self.model is None:
            self._fail(NO_MODEL)
            return None
        return self.model

    def predict_image(self) -> Task | None:
        """Model > Predict current image: replace the labels of the image (or frame) on screen."""
        return self._predict_current(view_only=False)

    def predict_view(self) -> Task | None:
        """Model > Predict field of view: replace the labels inside the visible part only."""
        return self._predict_current(view_only=True)

    def visible_box(self) -> Box | None:
        """The image pixels visible in the canvas (x0, y0, x1, y1), None when no image is shown."""
        w = self.window
        frame = w.current_frame()
        if frame is None:
            return None
        rect = w.canvas.image_item.mapRectFromView(w.canvas.view.viewRect())
        return visible_box(rect.left(), rect.top(), rect.right(), rect.bottom(), frame.shape[:2])

    def _predict_current(self, view_only: bool) -> Task | None:
        w = self.window
        model = self._ready()
        if model is None:
            return None
        frame, doc = w.current_frame(), w.document
        if frame is None or doc is None or w.image is None:
            self._fail("No image is open to predict")
            return None
        name = w.image.path.name if w.image.frames == 1 else f"{w.image.path.name} (frame {w.frame})"
        problem = channel_mismatch(frame, model, name)
        if problem:
            self._fail(f"Cannot predict: {problem}")
            return None
        box = None
        if view_only:
            box = self.visible_box()
            if box is None:
                self._fail("Cannot predict the field of view: no part of the image is visible")
                return None
        what = f"{name} (x {box[0]}–{box[2]}, y {box[1]}–{box[3]})" if box else name
        task = Task(predict_frame_job(model, frame, name, box, tta=self.tta), f"Predicting {what}")
        task.signals.finished.connect(while_alive(
            self, lambda labels, d=doc, b=box, n=what: self._apply_current(d, labels, b, n)))
        task.signals.failed.connect(while_alive(self, lambda msg, _tb: self._fail(f"Prediction failed: {msg}")))
        return self._start(task)

    def _apply_current(self, doc: Any, labels: LabelSet, box: Box | None, name: str) -> None:
        """Put a prediction into the document it was made for (one undoable step)."""
        self.task = None
        new = labels if box is None else merge_in_box(doc.labels, labels.with_shape(doc.shape), box)
        self.window.tools.cancel()
        try:
            changed = doc.replace(new)
        except LabelStoreError as exc:
            self._fail(f"Prediction not saved: {exc}")
            return
        found = len(labels)
        note = self.model.postprocessing_note if self.model else ""
        if not changed:
            self._done(f"Predicted {name}: no change ({found} region(s) found{note})")
        else:
            # the undo hint first: a long postprocessing note must not push it out of the status bar
            self._done(f"Predicted {name}: {found} region(s). Ctrl+Z takes the prediction back{note}")

    def predict_folder(self) -> Task | None:
        """Model > Predict whole folder…: label every image (every frame of stacks)."""
        from mia_core.viewer.image_list import UNREADABLE, labelled_images

        model = self._ready()
        if model is None:
            return None
        w = self.window
        paths = [p for p in w.image_list.paths if w.image_list.state(p) != UNREADABLE]
        if not paths:
            self._fail("No images to predict: open a folder of images first")
            return None
        labelled = labelled_images(paths)
        if labelled:
            choice = self._ask_replace(len(labelled), len(paths))
            if choice is None:
                return None
            if not choice:
                paths = [p for p in paths if p not in labelled]
                if not paths:
                    self._done("Every image already has labels: nothing to predict")
                    return None
        task = Task(predict_folder_job(model, paths, tta=self.tta), f"Predicting {len(paths)} image(s)",
                    with_items=True)
        written: list[int] = [0]
        # a frame finished after Cancel is dropped: the user asked for nothing more to change
        task.signals.item.connect(while_alive(
            self, lambda pred, c=written, t=task: t.is_cancelled or self._apply_item(pred, c)))
        task.signals.finished.connect(while_alive(self, lambda outcome, c=written: self._folder_done(outcome, c[0])))
        task.signals.failed.connect(while_alive(self, lambda msg, _tb: self._fail(f"Prediction failed: {msg}")))
        task.signals.cancelled.connect(lambda c=written: self._fail(
            f"Prediction cancelled after {c[0]} image(s)/frame(s); those keep their new labels"))
        return self._start(task)

    def _ask_replace(self, labelled: int, total: int) -> bool | None:
        """True: replace existing labels; False: only unlabelled images; None: cancel."""
        box = QMessageBox(QMessageBox.Question, "Predict whole folder",
                          f"{labelled} of {total} image(s) already have labels. Replace their labels with "
                          "the prediction, or predict only the images without labels?", parent=self.window)
        replace = box.addButton("Replace labels", QMessageBox.DestructiveRole)
        only_new = box.addButton("Only unlabelled images", QMessageBox.AcceptRole)
        box.addButton(QMessageBox.Cancel)
        box.setDefaultButton(only_new)
        box.setObjectName("predictFolderQuestion")
        box.exec_()
        clicked = box.clickedButton()
        return True if clicked is replace else False if clicked is only_new else None

    def _apply_item(self, pred: FramePrediction, written: list[int]) -> None:
        """Write one frame's prediction: through its document when the app has it open."""
        doc = self.window.session.docs.get((pred.image_path, pred.frame))
        try:
            if doc is not None:
                doc.replace(pred.labels.with_shape(doc.shape))
            else:
                save_labels(label_path(pred.image_path, pred.frame), pred.labels)
                self.window.image_list.refresh_labelled(pred.image_path)
        except LabelStoreError as exc:
            self.window.status.error(f"Labels of {pred.image_path.name} not saved: {exc}")
            return
        written[0] += 1

    def _folder_done(self, outcome: FolderOutcome, written: int) -> None:
        self.task = None
        text = f"Predicted {written} image(s)/frame(s) of {outcome.images} image(s)"
        if outcome.skipped:
            skipped = "; ".join(f"{name}: {why}" for name, why in outcome.skipped)
            self._fail(f"{text}; skipped {len(outcome.skipped)}: {skipped}")
        else:
            self._done(text + (self.model.postprocessing_note if self.model else ""))

    # --- plumbing ----------------------------------------------------------------------------
    def _refuse_if_busy(self) -> bool:
        if self.task is None:
            return False
        self._fail(f"Wait for \"{self.task.label}\" to end (or cancel it) first")
        return True

    def _cancelled(self, task: Task) -> None:
        if not task.with_items:  # a folder run reports what it wrote instead
            super()._cancelled(task)

    def shutdown(self, wait_s: float = 120.0) -> None:
        """The app is quitting: cancel predictions, stop training and wait for its checkpoint."""
        if self.task is not None:
            self.task.cancel()
        if self.training is not None:
            self.training.hide()
        self.runner.wait(int(wait_s * 1000))  # a job ends at its next progress report
        self.runner.abandon()  # one still running reaches no slot of the closing window
        if self.training is not None and self.training.run is not None and self.training.run.running:
            self.window.status.info("Stopping training: saving its checkpoint…")
            QApplication.setOverrideCursor(Qt.WaitCursor)
            try:
                self.training.shutdown(wait_s)
            finally:
                QApplication.restoreOverrideCursor()


def _add(window: Any, menu: QMenu, text: str, name: str, slot: Callable[[], object], keys: str = "",
         tip: str = "") -> QAction:
    action = QAction(text, window)
    action.setObjectName(name)
    if keys:
        action.setShortcut(QKeySequence(keys))
        action.setShortcutContext(Qt.WindowShortcut)
    action.setToolTip(tip or text)
    action.setStatusTip(tip or text)
    action.triggered.connect(lambda _checked=False: slot())
    window.addAction(action)
    menu.addAction(action)
    return action


def _add_switch(window: Any, menu: QMenu, text: str, name: str, slot: Callable[[bool], object], on: bool,
                tip: str) -> QAction:
    """A checkable menu entry starting ``on``; ``slot`` gets each new state."""
    action = QAction(text, window)
    action.setObjectName(name)
    action.setCheckable(True)
    action.setChecked(on)
    action.setToolTip(tip)
    action.setStatusTip(tip)
    action.toggled.connect(slot)
    menu.addAction(action)
    return action


def build_model_menu(window: Any, menu: QMenu) -> ModelActions:
    """Fill the Model menu of a main window whose ``models`` is a ModelControl."""
    m: ModelControl = window.models
    menu.setToolTipsVisible(True)
    acts = ModelActions(
        train=_add(window, menu, "Train…", "train_model", m.open_training,
                   tip="Train a segmentation model on the labelled images of this folder"),
        load=_add(window, menu, "Load model…", "load_model", m.choose_model,
                  tip="Use a model folder written by training"),
        predict_image=_add(window, menu, "Predict current image", "predict_image", m.predict_image, "Ctrl+P",
                           "Replace the labels of the image (or frame) on screen by the model's prediction"),
        predict_view=_add(window, menu, "Predict field of view", "predict_view", m.predict_view, "Ctrl+Shift+P",
                          "Replace the labels inside the visible part of the image only"),
        predict_folder=_add(window, menu, "Predict whole folder…", "predict_folder", m.predict_folder,
                            tip="Label every image of the folder (every frame of stacks)"),
        tta=_add_switch(window, menu, "Test-time flips (slower, smoother)", "test_time_flips", m.set_tta,
                        bool(window.settings.tta),
                        "Predictions average the image and its flips: 4× the time, fewer ragged edges"),
    )
    menu.insertSeparator(acts.predict_image)
    menu.insertSeparator(acts.tta)
    m.actions = acts
    return acts
