"""The file layout of model folders and training checkpoints, readable without JAX.

:mod:`mia_core.engine.checkpoint` writes and restores the weights (it needs JAX); this module only
names the files and reads the checkpoint's JSON progress, so the app can tell whether a folder holds a
run to resume, and with which settings, without loading the engine.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mia_core.engine.config import ConfigError, TrainConfig

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "weights.msgpack"
CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "state.msgpack"
PROGRESS_FILE = "progress.json"


class ModelLoadError(ValueError):
    """A model folder or checkpoint is missing, incomplete or damaged; the message names it."""


def has_checkpoint(folder: str | Path) -> bool:
    """True when ``folder`` holds a training checkpoint (whether or not it can still be read)."""
    return (Path(folder) / CHECKPOINT_DIR / PROGRESS_FILE).is_file()


def read_json(path: Path) -> Any:
    """A model folder's JSON file; ModelLoadError naming the file when it cannot be read or parsed."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"{path} is damaged: {exc}") from exc


def read_checkpoint_progress(folder: str | Path) -> dict[str, Any]:
    """The loop progress saved with the last checkpoint of a model folder."""
    path = Path(folder) / CHECKPOINT_DIR / PROGRESS_FILE
    if not path.is_file():
        raise ModelLoadError(f"no training checkpoint in {Path(folder)} to resume from")
    data = read_json(path)
    if not isinstance(data, dict) or "epoch" not in data or "config" not in data:
        raise ModelLoadError(f"{path} is not a mia training checkpoint")
    return data


def resume_config(folder: str | Path, progress: dict[str, Any] | None = None) -> TrainConfig:
    """The settings of the run whose checkpoint is in ``folder`` (from ``progress`` when the
    caller has read it already)."""
    progress = read_checkpoint_progress(folder) if progress is None else progress
    try:
        return TrainConfig.from_dict(progress["config"])
    except (ConfigError, TypeError) as exc:
        raise ModelLoadError(f"checkpoint in {folder} has unusable settings: {exc}") from exc
