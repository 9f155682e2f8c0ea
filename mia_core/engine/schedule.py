"""Per-epoch learning rate (constant, step, reduce-on-plateau) and early stopping, kept on the host.

Both follow the validation metric (higher is better) and save their state in the checkpoint.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from mia_core.engine.config import TrainConfig


@dataclass
class ScheduleState:
    """What the schedule and early stopping remember between epochs."""

    learning_rate: float
    best: float | None = None  # best validation metric so far
    best_epoch: int = -1
    since_best: int = 0  # epochs since the metric last improved (early stopping)
    since_reduce: int = 0  # epochs since the last improvement or reduction (plateau)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return asdict(self)


class LearningRateSchedule:
    """Chooses the learning rate of each epoch and says when to stop early."""

    def __init__(self, config: TrainConfig, state: ScheduleState | None = None) -> None:
        self.config = config
        self.state = state or ScheduleState(learning_rate=config.learning_rate)

    def rate_for_epoch(self, epoch: int) -> float:
        """Learning rate for 0-based ``epoch`` (plateau reductions are applied in :meth:`end_epoch`)."""
        cfg = self.config
        if cfg.schedule == "step":
            rate = cfg.learning_rate * cfg.step_gamma ** (epoch // cfg.step_epochs)
            self.state.learning_rate = max(rate, cfg.min_learning_rate)
        return self.state.learning_rate

    def end_epoch(self, epoch: int, metric: float) -> bool:
        """Record this epoch's validation metric; return True when it is the best so far."""
        s = self.state
        improved = s.best is None or metric > s.best
        if improved:
            s.best, s.best_epoch, s.since_best, s.since_reduce = metric, epoch, 0, 0
            return True
        s.since_best += 1
        s.since_reduce += 1
        cfg = self.config
        if cfg.schedule == "reduce-on-plateau" and s.since_reduce >= cfg.plateau_patience:
            s.learning_rate = max(s.learning_rate * cfg.plateau_factor, cfg.min_learning_rate)
            s.since_reduce = 0
        return False

    def should_stop(self) -> bool:
        """True once the metric has not improved for ``early_stopping`` epochs."""
        patience = self.config.early_stopping
        return patience > 0 and self.state.since_best >= patience
