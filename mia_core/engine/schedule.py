"""Per-epoch learning rate (cosine, constant, step, reduce-on-plateau) and early stopping, on the host.

Both follow the validation metric (higher is better) and save their state in the checkpoint. The
cosine schedule anneals over the run's planned epochs: ``epochs``, or, under a time budget, the
epochs that the measured epoch time says still fit (re-planned every epoch), so a 5-minute run
ends at a low learning rate instead of at a random point of a noisy constant one.
"""

from __future__ import annotations

import math
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
    planned_epochs: int | None = None  # the cosine's horizon under a time budget (None: ``epochs``)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state."""
        return asdict(self)


class LearningRateSchedule:
    """Chooses the learning rate of each epoch and says when to stop early."""

    def __init__(self, config: TrainConfig, state: ScheduleState | None = None) -> None:
        self.config = config
        self.state = state or ScheduleState(learning_rate=config.learning_rate)

    def rate_for_epoch(self, epoch: int, planned_epochs: int | None = None) -> float:
        """Learning rate for 0-based ``epoch`` (plateau reductions are applied in :meth:`end_epoch`);
        ``planned_epochs`` is the cosine's horizon when a time budget ends the run before ``epochs``."""
        cfg = self.config
        if cfg.schedule == "cosine":
            total = max(min(planned_epochs or cfg.epochs, cfg.epochs), epoch + 1)
            low = min(cfg.min_learning_rate, cfg.learning_rate)
            self.state.learning_rate = low + (cfg.learning_rate - low) * 0.5 * (1 + math.cos(math.pi * epoch / total))
        elif cfg.schedule == "step":
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
