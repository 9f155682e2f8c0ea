"""Worker jobs of the training window that need no JAX: the data summary before a run, and the
held-out score of a finished model (that one predicts, so it imports the engine on the worker)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from mia_core.engine.config import TrainConfig


@dataclass(frozen=True)
class DataCheck:
    """What the window shows before Start: the summary lines, its warnings, the time estimate."""

    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    estimate: str = ""


def summary_job(folder: Path, config: TrainConfig) -> Callable[[Any], DataCheck]:
    """Read the labelled images as training would and summarise them (TrainingDataError says why not)."""

    def job(report: Any) -> DataCheck:
        from mia_core.engine.data_summary import summarise
        from mia_core.engine.dataset import prepare_training_data
        from mia_core.engine.estimate import estimate

        report(0, 0)
        data = prepare_training_data(folder, config)
        summary = summarise(data, config)
        return DataCheck(summary.lines, summary.warnings, estimate(config).text)

    return job


def score_job(model_dir: Path, folder: Path, truth: Path, config: TrainConfig,
              registry: Any) -> Callable[[Any], str]:
    """The model scored on the images of ``folder`` that have a mask in ``truth`` and did not train."""

    def job(report: Any) -> str:
        from mia_core.scoring import held_out_score
        from mia_core.engine.dataset import prepare_training_data

        report(0, 0)
        trained = {s.path.resolve() for s in prepare_training_data(folder, config).train}
        return held_out_score(model_dir, folder, truth, trained, registry)

    return job
