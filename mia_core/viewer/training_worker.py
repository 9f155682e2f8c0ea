"""Runs the training engine on a background thread and reports to the GUI only through signals.

The engine (and so JAX) is imported on that thread when a run starts. The thread is a daemon, so
quitting the app never waits for an epoch to end; Stop asks the engine to stop after the current
step, which keeps a checkpoint.
"""

from __future__ import annotations

import threading
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PyQt5.QtCore import QObject, pyqtSignal

from mia_core.engine.config import ConfigError, TrainConfig


@dataclass(frozen=True)
class TrainingOutcome:
    """How a run ended (the engine's TrainResult without the network)."""

    reason: str  # "completed", "early-stopping", "stopped", "nan"
    epochs_done: int
    best_metric: float | None
    best_epoch: int
    metric_name: str
    model_dir: Path
    early_stopping: int = 0

    def text(self) -> str:
        """What the training window says about the run."""
        best = ("" if self.best_metric is None or self.epochs_done == 0 else
                f", best {self.metric_name} {self.best_metric:.4f} at epoch {self.best_epoch}")
        epochs = f"{self.epochs_done} epoch(s)"
        where = f"Model saved in {self.model_dir}."
        if self.reason == "completed":
            return f"Finished: {epochs}{best}. {where}"
        if self.reason == "early-stopping":
            return (f"Stopped early: no better {self.metric_name} for {self.early_stopping} epochs, "
                    f"after {epochs}{best}. {where}")
        if self.reason == "stopped":
            return (f"Stopped by you after {epochs}{best}. The checkpoint is kept: {where}")
        if self.reason == "nan":
            return (f"Stopped: the loss became NaN after {epochs}. The last good model is kept in "
                    f"{self.model_dir}; lower the learning rate or check the labels.")
        return f"Training ended ({self.reason}) after {epochs}{best}. {where}"


#: Errors that mean "these settings or these images cannot train": shown as they are, no traceback.
def _expected_errors() -> tuple[type[BaseException], ...]:
    from mia_core.engine.checkpoint import ModelLoadError
    from mia_core.engine.dataset import TrainingDataError
    from mia_core.engine.train import TrainingError

    return (ConfigError, TrainingDataError, ModelLoadError, TrainingError)


class TrainingRun(QObject):
    """One training run of ``folder`` into ``out_dir`` on a daemon thread (a new one, or ``resume``d)."""

    progressed = pyqtSignal(object)  # mia_core.engine.train.Progress
    finished = pyqtSignal(object)  # TrainingOutcome
    failed = pyqtSignal(str, str)  # message, traceback ("" for an expected error)

    def __init__(self, folder: Path, config: TrainConfig, out_dir: Path, registry: Any,
                 overwrite: bool = False, parent: QObject | None = None, resume: bool = False) -> None:
        super().__init__(parent)
        self.folder, self.config, self.out_dir = Path(folder), config, Path(out_dir)
        self.registry, self.overwrite, self.resume = registry, overwrite, resume
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """True while the thread is training."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        """True once Stop was asked for."""
        return self._stop.is_set()

    def start(self) -> None:
        """Start training in the background."""
        self._thread = threading.Thread(target=self._run, name="mia-training", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Ask the engine to stop after the current step (it saves a checkpoint)."""
        self._stop.set()

    def wait(self, seconds: float | None = None) -> bool:
        """Wait for the thread to end; True when it has."""
        if self._thread is not None:
            self._thread.join(seconds)
        return not self.running

    def _emit(self, signal: Any, *args: Any) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:  # the window was deleted: nobody is listening any more
            pass

    def _run(self) -> None:
        """The thread's body: never touches a widget, only emits."""
        try:
            outcome = self._train()
        except Exception as exc:  # noqa: BLE001 - shown in the window, the app goes on
            expected = isinstance(exc, _expected_errors())
            self._emit(self.failed, str(exc) or type(exc).__name__,
                       "" if expected else traceback.format_exc())
        else:
            self._emit(self.finished, outcome)

    def _train(self) -> TrainingOutcome:
        from mia_core.engine.train import check_fresh_folder, train_folder

        if not (self.overwrite or self.resume):
            try:
                check_fresh_folder(self.out_dir)
            except ConfigError:
                raise ConfigError(
                    f"the model folder {self.out_dir} already holds a model: tick "
                    "\"Replace the model in this folder\", choose another folder, or Resume its run if it was stopped"
                ) from None
        result = train_folder(
            self.folder, self.config, self.out_dir, registry=self.registry,
            progress=lambda p: self._emit(self.progressed, p), stop=self._stop, overwrite=self.overwrite,
            resume=self.resume,
        )
        return TrainingOutcome(result.reason, result.epochs_done, result.best_metric, result.best_epoch,
                               result.info.metric or self.config.metric, Path(result.model_dir),
                               self.config.early_stopping)
