"""What the training window needs to resume a stopped run: is there one, and what it saved.

Reads only the checkpoint's JSON (through :mod:`mia_core.engine.checkpoint_files`), so the window
can enable its Resume button and show the saved settings without loading JAX.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mia_core.engine.checkpoint_files import (
    ModelLoadError,
    has_checkpoint,
    read_checkpoint_progress,
    resume_config,
)
from mia_core.engine.config import TrainConfig


@dataclass(frozen=True)
class SavedRun:
    """A stopped run as its checkpoint left it: its settings and the epochs it finished."""

    config: TrainConfig
    epochs_done: int
    history: list[dict[str, Any]] = field(default_factory=list)  # one record per finished epoch
    stopped_early: bool = False  # early stopping ended it: resuming would stop again at once


def saved_run(folder: Path) -> SavedRun:
    """The run checkpointed in ``folder``; ModelLoadError (the engine's message) when there is none."""
    progress = read_checkpoint_progress(folder)
    config = resume_config(folder, progress)
    history = progress.get("history")
    try:
        done = int(progress["epoch"])
    except (TypeError, ValueError):
        raise ModelLoadError(f"the checkpoint in {folder} is damaged: bad epoch {progress['epoch']!r}") from None
    schedule = progress.get("schedule")
    since_best = schedule.get("since_best", 0) if isinstance(schedule, dict) else 0
    stopped_early = config.early_stopping > 0 and isinstance(since_best, int) and since_best >= config.early_stopping
    return SavedRun(config, done, list(history) if isinstance(history, list) else [], stopped_early)


def resumable(folder: Path | None) -> bool:
    """True when ``folder`` holds a run with epochs left that early stopping did not end, or a
    checkpoint too damaged to tell (Resume says why)."""
    if folder is None or not has_checkpoint(folder):
        return False
    try:
        run = saved_run(folder)
    except ModelLoadError:
        return True
    return run.epochs_done < run.config.epochs and not run.stopped_early
