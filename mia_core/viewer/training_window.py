"""The training window: settings, model folder, Start / Resume / Stop, a live plot, progress and the outcome.

Training runs on a background thread (:mod:`mia_core.viewer.training_worker`); its progress reaches
the widgets only as queued signals. Closing the window only hides it: a run goes on and the window
shows it again when reopened.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtGui import QCloseEvent
from PyQt5.QtWidgets import (
    QCheckBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from mia_core.durations import format_seconds
from mia_core.engine.checkpoint_files import ModelLoadError
from mia_core.engine.config import ConfigError
from mia_core.viewer.gui_text import speak_gui
from mia_core.viewer.training_plot import TrainingPlot
from mia_core.viewer.training_resume import resumable, saved_run
from mia_core.viewer.training_settings import TrainingSettingsForm
from mia_core.viewer.training_worker import TrainingOutcome, TrainingRun
from mia_core.viewer.workers import Task, TaskRunner, while_alive

#: Where a model goes by default: beside the label folder of the images it learns from.
MODELS_FOLDER = "Segmentation_models"
ERROR_STYLE = "color: #d70015; font-weight: bold;"
DONE_STYLE = "color: #1e7d38; font-weight: bold;"


def refusal(verb: str, message: str) -> str:
    """'Cannot train: why', without saying 'cannot' twice when the engine's message already does."""
    if message.lower().startswith(f"cannot {verb}"):
        return message[:1].upper() + message[1:]
    return f"Cannot {verb}: {message}"


def progress_text(p: Any) -> str:
    """One line about where a run is: epoch, step, loss, metric, learning rate and time left."""
    loss = "--" if p.loss is None else f"{p.loss:.4f}"
    metric = "--" if p.metric is None else f"{p.metric:.4f}"
    return (f"Epoch {p.epoch}/{p.epochs}, step {p.step}/{p.steps} · loss {loss} · {p.metric_name} {metric} · "
            f"lr {p.learning_rate:.1e} · {format_seconds(p.eta_s)} left")


class TrainingWindow(QDialog):
    """Train a model on the labelled images of the open folder."""

    modelSaved = pyqtSignal(object)  # Path of a model folder that now holds weights
    runEnded = pyqtSignal(str)  # the outcome line (finished / stopped / the error)

    def __init__(self, registry: Any, parent: QWidget | None = None,
                 source: Callable[[], tuple[Path | None, list[str]]] | None = None) -> None:
        """``source`` tells, when asked, the folder to learn from and its class names (the open folder)."""
        super().__init__(parent)
        self.source_of = source
        self.setWindowTitle("Train a model")
        self.setObjectName("trainingWindow")
        self.resize(1120, 720)
        self.registry = registry
        self.folder: Path | None = None
        self.class_names: list[str] = []
        self.fetcher: Callable[[str], Callable[..., Any]] | None = None  # tests: replaces the weights download
        self.fetch_task: Any = None
        self.run: TrainingRun | None = None
        self._active = False  # a run started and its end is not shown yet
        self._out_auto = True  # the model folder follows the settings until the user picks one
        self._plot_dir: Path | None = None  # the model folder of the run the plot shows

        self.form = TrainingSettingsForm(registry)
        scroll = QScrollArea()
        scroll.setWidget(self.form)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(self.form.sizeHint().width() + scroll.verticalScrollBar().sizeHint().width() + 6)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        self.source = QLabel()
        self.source.setObjectName("trainingSource")
        self.source.setWordWrap(True)
        self.out_edit = QLineEdit()
        self.out_edit.setObjectName("modelFolder")
        self.out_edit.setToolTip("The model is saved here: config.json, weights.msgpack and a checkpoint")
        self.browse = QPushButton("Browse…")
        self.replace = QCheckBox("Replace the model in this folder")
        self.replace.setObjectName("replaceModel")
        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("startTraining")
        self.start_button.setDefault(True)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setObjectName("resumeTraining")
        self.resume_button.setToolTip("Continue the stopped run of the model folder with the settings saved there")
        self.resume_button.setEnabled(False)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopTraining")
        self.stop_button.setToolTip("Stop after the current step; the checkpoint and the best model are kept")
        self.stop_button.setEnabled(False)
        self.plot = TrainingPlot()
        self.bar = QProgressBar()
        self.bar.setObjectName("trainingProgress")
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.eta = QLabel("Not started")
        self.eta.setObjectName("trainingEta")
        self.outcome = QLabel()
        self.outcome.setObjectName("trainingOutcome")
        self.outcome.setWordWrap(True)
        self.outcome.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.summary = QLabel()
        self.summary.setObjectName("dataSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.check_button = QPushButton("Check data")
        self.check_button.setObjectName("checkData")
        self.check_button.setAutoDefault(False)
        self.check_button.setToolTip("Read the labelled images as training will and say what it learns from")
        self.estimate = QLabel()
        self.estimate.setObjectName("trainingEstimate")
        self.estimate.setWordWrap(True)
        self.truth_edit = QLineEdit()
        self.truth_edit.setObjectName("truthFolder")
        self.truth_edit.setPlaceholderText("none: no held-out score")
        self.truth_edit.setToolTip("A folder of ground-truth masks (object numbers, named like the images): a "
                                   "finished model is scored on the images with a mask there that did not train")
        self.truth_browse = QPushButton("Browse…")
        self.truth_browse.setObjectName("truthBrowse")
        self.truth_browse.setAutoDefault(False)
        self.score = QLabel()
        self.score.setObjectName("heldOutScore")
        self.score.setWordWrap(True)
        self.score.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self._checks = TaskRunner(1, self)
        self._check_task: Task | None = None
        self._score_task: Task | None = None
        self._lay_out(scroll)

        self.browse.clicked.connect(self.choose_out_dir)
        self.out_edit.textEdited.connect(self._out_edited)
        self.out_edit.textChanged.connect(self._update_resume)
        self.start_button.clicked.connect(self.start)
        self.resume_button.clicked.connect(self.resume)
        self.stop_button.clicked.connect(self.stop)
        for attr in ("architecture", "backbone"):
            self.form.combos[attr].currentTextChanged.connect(self._suggest_out_dir)
            self.form.combos[attr].currentTextChanged.connect(self._update_estimate)
        for spin in (self.form.epochs, self.form.time_budget, self.form.steps, self.form.batch, self.form.patch):
            spin.valueChanged.connect(self._update_estimate)
        self.check_button.clicked.connect(self.check_data)
        self.truth_browse.clicked.connect(self.choose_truth_dir)
        self._update_estimate()

    def _lay_out(self, scroll: QScrollArea) -> None:
        out_row = QHBoxLayout()
        out_row.addWidget(QLabel("Model folder"))
        out_row.addWidget(self.out_edit, 1)
        out_row.addWidget(self.browse)
        buttons = QHBoxLayout()
        buttons.addWidget(self.replace)
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.resume_button)
        buttons.addWidget(self.stop_button)
        right = QWidget()
        col = QVBoxLayout(right)
        col.setContentsMargins(6, 0, 0, 0)
        truth_row = QHBoxLayout()
        truth_row.addWidget(QLabel("Ground truth"))
        truth_row.addWidget(self.truth_edit, 1)
        truth_row.addWidget(self.truth_browse)
        check_row = QHBoxLayout()
        check_row.addWidget(self.estimate, 1)
        check_row.addWidget(self.check_button)
        col.addWidget(self.source)
        col.addWidget(self.summary)
        col.addLayout(check_row)
        col.addLayout(out_row)
        col.addLayout(truth_row)
        col.addLayout(buttons)
        col.addWidget(self.plot, 1)
        col.addWidget(self.bar)
        col.addWidget(self.eta)
        col.addWidget(self.outcome)
        col.addWidget(self.score)
        split = QSplitter(Qt.Horizontal)
        split.addWidget(scroll)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([scroll.minimumWidth(), self.width() - scroll.minimumWidth()])
        layout = QVBoxLayout(self)
        layout.addWidget(split)

    # --- what to train on --------------------------------------------------------------------
    def set_source(self, folder: Path | None, class_names: list[str] | None = None) -> None:
        """The image folder to learn from and the class names to save with the model."""
        self.folder = Path(folder) if folder is not None else None
        self.class_names = list(class_names or [])
        if self.folder is None:
            self.source.setText("Open a folder of labelled images first (File > Open folder).")
        else:
            self.source.setText(f"Learns from the labelled images of <b>{self.folder}</b>")
        changed = folder is not None and self.folder != getattr(self, "_checked_folder", None)
        self._suggest_out_dir()
        self._update_resume()  # a run may have stopped in the model folder since the window last looked
        if changed and not self.running:
            self.check_data()

    def _suggest_out_dir(self, *_: object) -> None:
        if not self._out_auto or self.folder is None:
            return
        name = f"{self.form.combos['architecture'].currentText()}-{self.form.combos['backbone'].currentText()}"
        self.out_edit.setText(str(self.folder / MODELS_FOLDER / name))

    def _out_edited(self, _text: str) -> None:
        self._out_auto = False

    def choose_out_dir(self) -> None:
        """Browse… : pick the folder the model is saved in."""
        start = self.out_edit.text() or str(self.folder or Path.home())
        chosen = QFileDialog.getExistingDirectory(self, "Model folder", start)
        if chosen:
            self.out_edit.setText(chosen)
            self._out_auto = False

    # --- before a run: the data summary and the time estimate --------------------------------
    def check_data(self) -> bool:
        """Summarise the open folder's labelled images in the background (Check data; on opening)."""
        if self.folder is None:
            self.summary.setText("")
            return False
        try:
            config = self.form.config(class_names=tuple(self.class_names))
        except ConfigError as exc:
            self._show_summary_error(refusal("check the data", str(exc)))
            return False
        if self._check_task is not None:
            self._check_task.cancel()
        from mia_core.viewer.training_checks import summary_job

        self._checked_folder = self.folder
        task = Task(summary_job(self.folder, config), "Checking the training data")
        task.signals.finished.connect(while_alive(self, lambda check, t=task: self._show_summary(t, check)))
        task.signals.failed.connect(while_alive(self, lambda msg, _tb, t=task: self._check_failed(t, msg)))
        self._check_task = task
        self.summary.setStyleSheet("")
        self.summary.setText("Reading the labelled images…")
        self._checks.start(task)
        return True

    def _show_summary(self, task: Task, check: Any) -> None:
        if task is not self._check_task:
            return
        self._check_task = None
        lines = [f"{line[:1].upper()}{line[1:]}." for line in check.lines]
        warnings = [f"<b>Warning:</b> {w}." for w in check.warnings]
        self.summary.setStyleSheet("")
        self.summary.setText("<br>".join(lines + warnings))
        self.estimate.setText(check.estimate[:1].upper() + check.estimate[1:])

    def _check_failed(self, task: Task, message: str) -> None:
        if task is not self._check_task:
            return
        self._check_task = None
        self._show_summary_error(refusal("train", message))

    def _show_summary_error(self, text: str) -> None:
        self.summary.setStyleSheet(ERROR_STYLE)
        self.summary.setText(text)

    def _update_estimate(self, *_: object) -> None:
        """The rough time of a run with the settings shown (calibrated, no JAX)."""
        from mia_core.engine.estimate import estimate

        try:
            config = self.form.config()
        except ConfigError:
            return
        text = estimate(config).text
        self.estimate.setText(text[:1].upper() + text[1:])

    def choose_truth_dir(self) -> None:
        """Browse… : pick the folder of ground-truth masks for the held-out score."""
        chosen = QFileDialog.getExistingDirectory(self, "Ground-truth masks", self.truth_edit.text() or
                                                  str(self.folder or Path.home()))
        if chosen:
            self.truth_edit.setText(chosen)

    # --- after a run: the held-out score --------------------------------------------------------
    def _score_model(self, model_dir: Path) -> None:
        """Score the finished model against the ground-truth folder, if one is set, in the background."""
        truth = self.truth_edit.text().strip()
        if not truth or self.folder is None or self.run is None:
            self.score.setText("")
            return
        from mia_core.viewer.training_checks import score_job

        task = Task(score_job(model_dir, self.folder, Path(truth).expanduser(), self.run.config, self.registry),
                    "Scoring the model on held-out images")
        task.signals.finished.connect(while_alive(self, lambda text, t=task: self._show_score(t, text, "")))
        task.signals.failed.connect(lambda msg, _tb, t=task: self._show_score(t, f"No held-out score: {msg}",
                                                                              ERROR_STYLE))
        self._score_task = task
        self.score.setStyleSheet("")
        self.score.setText("Scoring the model on the held-out images with ground truth…")
        self._checks.start(task)

    def _show_score(self, task: Task, text: str, style: str) -> None:
        if task is not self._score_task:
            return
        self._score_task = None
        self.score.setStyleSheet(style)
        self.score.setText(text if style else "Held-out score: " + text.replace("evaluated", "on", 1))

    # --- running -----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """True from Start until the window shows how the run ended."""
        return self._active

    def start(self) -> bool:
        """Check the settings here, then train in the background; False (with the reason shown) if refused."""
        if self.running:
            return False
        try:
            folder, out = self._where()
            config = self.form.config(class_names=tuple(self.class_names))
        except ConfigError as exc:
            self._show_error(refusal("train", str(exc)))
            return False
        if config.weights and not self._pretrained_ready(config):
            return False
        self.plot.clear(config.metric)
        self._launch(TrainingRun(folder, config, out, self.registry, overwrite=self.replace.isChecked(),
                                 parent=self), epochs_done=0)
        return True

    def _pretrained_ready(self, config: Any) -> bool:
        """True when the chosen pretrained weights are on this computer; else ask, and fetch in the background."""
        from mia_core import weights

        name = self.form.pretrained_weights(config.backbone)
        if name is None or weights.is_cached(name):
            return True
        box = QMessageBox(QMessageBox.Question, "Download pretrained weights",
                          f"The ImageNet weights of {config.backbone} ({name}) are not on this computer yet.\n\n"
                          "Download them now (once; checked and converted), then start training?",
                          QMessageBox.Yes | QMessageBox.No, self)
        box.setObjectName("fetchWeightsQuestion")
        box.setDefaultButton(QMessageBox.Yes)
        if box.exec_() != QMessageBox.Yes:
            self._show_error(refusal("train", f"the pretrained weights {name} are not downloaded; "
                                     "untick Pretrained to train from scratch"))
            return False
        from mia_core.viewer.autoseg_actions import fetch_job
        from mia_core.viewer.workers import Task, TaskRunner

        task = Task(self.fetcher(name) if self.fetcher else fetch_job(self.registry, name), f"Downloading {name}")
        task.signals.progress.connect(while_alive(
            self, lambda done, total: (self.bar.setRange(0, total), self.bar.setValue(done))))
        task.signals.finished.connect(while_alive(
            self, lambda _path: (setattr(self, "fetch_task", None), self.start())))
        task.signals.failed.connect(lambda msg, _tb: (setattr(self, "fetch_task", None),
                                                      self._show_error(f"Cannot download {name}: {msg}")))
        self.eta.setText(f"Downloading {name}…")
        self.fetch_task = task
        self._fetch_runner = getattr(self, "_fetch_runner", None) or TaskRunner(1, self)
        self._fetch_runner.start(task)
        return False

    def resume(self) -> bool:
        """Continue the stopped run of the model folder with its saved settings (shown in the form)."""
        if self.running:
            return False
        try:
            folder, out = self._where()
            saved = saved_run(out)
            saved.config.validate()  # e.g. its validation folder is gone: say so before showing it
        except ConfigError as exc:
            self._show_error(refusal("resume", f"the run's saved {exc}; start it again with corrected "
                                     "settings (tick “Replace the model in this folder”) or choose another "
                                     "Model folder"))
            return False
        except ModelLoadError as exc:
            self._show_error(refusal("resume", str(exc)))
            self._update_resume()  # the folder may have changed on disk since it was chosen
            return False
        self._out_auto = False  # showing the saved network must not move the model folder
        self.form.set_config(saved.config)
        self.plot.continue_run(saved.history, saved.config.metric, keep_steps=self._plot_dir == out)
        self._launch(TrainingRun(folder, saved.config, out, self.registry, parent=self, resume=True),
                     epochs_done=saved.epochs_done)
        return True

    def _where(self) -> tuple[Path, Path]:
        """The image folder open now and the model folder typed in; ConfigError says which is missing."""
        if self.source_of is not None:
            self.set_source(*self.source_of())  # the folder open now, even if it changed since
        if self.folder is None:
            raise ConfigError("no image folder is open: open a folder of labelled images first")
        out = self.out_edit.text().strip()
        if not out:
            raise ConfigError("choose a model folder")
        return self.folder, Path(out).expanduser()

    def _launch(self, run: TrainingRun, epochs_done: int) -> None:
        """Show the run as started and start it."""
        run.progressed.connect(self._progress)
        run.finished.connect(self._finished)
        run.failed.connect(self._failed)
        self.run, self._plot_dir = run, run.out_dir
        steps = run.config.steps_per_epoch
        self.bar.setRange(0, run.config.epochs * steps)
        self.bar.setValue(epochs_done * steps)
        self.eta.setText("Preparing the images and compiling the network…")
        self._set_outcome("", "")
        self._set_running(True)
        run.start()

    def stop(self) -> None:
        """Stop after the current step; the engine saves a checkpoint."""
        if self.run is not None and self.run.running:
            self.run.stop()
            self.stop_button.setEnabled(False)
            self.eta.setText("Stopping after this step…")

    def shutdown(self, wait_s: float = 0.0) -> None:
        """Stop a run (the app is quitting); optionally wait for it to save its checkpoint."""
        if self.run is not None and self.run.running:
            self.run.stop()
            if wait_s > 0:
                self.run.wait(wait_s)

    def _set_running(self, running: bool) -> None:
        self._active = running
        self.start_button.setEnabled(not running)
        self.stop_button.setEnabled(running)
        self.form.setEnabled(not running)
        for w in (self.out_edit, self.browse, self.replace, self.check_button):
            w.setEnabled(not running)
        self._update_resume()

    def _update_resume(self, *_: object) -> None:
        """Resume is offered while no run is active and the model folder holds a stopped run."""
        text = self.out_edit.text().strip()
        self.resume_button.setEnabled(not self.running and resumable(Path(text).expanduser() if text else None))

    def _progress(self, p: Any) -> None:
        if self.sender() is not self.run:
            return
        self.plot.add(p)
        if p.phase in ("train", "epoch"):
            self.bar.setValue((p.epoch - 1) * p.steps + p.step)
            if not (self.run is not None and self.run.stopping):
                self.eta.setText(progress_text(p))

    def _finished(self, outcome: TrainingOutcome) -> None:
        if self.sender() is not self.run:
            return
        self._set_running(False)
        self.eta.setText(self.eta.text() if self.eta.text().startswith("Epoch") else "")
        self._set_outcome(outcome.text(), DONE_STYLE if outcome.reason in ("completed", "early-stopping") else "")
        if outcome.epochs_done > 0:
            self._score_model(outcome.model_dir)
        self.modelSaved.emit(outcome.model_dir)
        self.runEnded.emit(outcome.text())

    def _failed(self, message: str, details: str) -> None:
        if self.sender() is not self.run:
            return
        self._set_running(False)
        self.eta.setText("")
        verb = "resume" if self.run is not None and self.run.resume else "train"
        self._show_error(refusal(verb, message) if not details else f"Training failed: {message}", details)
        self.runEnded.emit(self.outcome.text())

    def _show_error(self, text: str, details: str = "") -> None:
        self._set_outcome(text, ERROR_STYLE, details)

    def _set_outcome(self, text: str, style: str, details: str = "") -> None:
        text = speak_gui(text)  # the engine's advice names flags; the window has controls
        self.outcome.setText(text)
        self.outcome.setStyleSheet(style)
        self.outcome.setToolTip(details or text)

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing hides the window; a run goes on (Stop ends it)."""
        self.hide()
        event.ignore()
