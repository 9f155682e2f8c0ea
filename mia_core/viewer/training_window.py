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
        self._lay_out(scroll)

        self.browse.clicked.connect(self.choose_out_dir)
        self.out_edit.textEdited.connect(self._out_edited)
        self.out_edit.textChanged.connect(self._update_resume)
        self.start_button.clicked.connect(self.start)
        self.resume_button.clicked.connect(self.resume)
        self.stop_button.clicked.connect(self.stop)
        for attr in ("architecture", "backbone"):
            self.form.combos[attr].currentTextChanged.connect(self._suggest_out_dir)

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
        col.addWidget(self.source)
        col.addLayout(out_row)
        col.addLayout(buttons)
        col.addWidget(self.plot, 1)
        col.addWidget(self.bar)
        col.addWidget(self.eta)
        col.addWidget(self.outcome)
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
        self._suggest_out_dir()
        self._update_resume()  # a run may have stopped in the model folder since the window last looked

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
        task.signals.progress.connect(lambda done, total: (self.bar.setRange(0, total), self.bar.setValue(done)))
        task.signals.finished.connect(lambda _path: (setattr(self, "fetch_task", None), self.start()))
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
        for w in (self.out_edit, self.browse, self.replace):
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
