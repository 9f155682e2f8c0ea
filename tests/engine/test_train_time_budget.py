"""``--time``: the budget in seconds, the epoch limit it lifts, and the clock that stops before an
epoch that would pass it."""

from __future__ import annotations

import argparse

import pytest

from mia_core.commands import train as train_command
from mia_core.engine import train as engine_train
from mia_core.engine.config import ConfigError, TrainConfig


@pytest.mark.parametrize("text, seconds", [("10m", 600.0), ("90s", 90.0), ("1.5h", 5400.0), ("45", 45.0),
                                           ("0", 0.0), ("none", 0.0)])
def test_durations(text: str, seconds: float) -> None:
    assert train_command.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "m", "-5m", "0m", "ten minutes", "infh"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="duration"):
        train_command.parse_duration(text)


def _args(**given) -> argparse.Namespace:
    values = {k: None for k in train_command._OPTIONS}
    values.update(resume=False, config=None, set=[], time=None, out="m")
    values.update(given)
    return argparse.Namespace(**values)


def test_time_lifts_the_epoch_limit_unless_epochs_are_given() -> None:
    default = train_command.build_config(_args())
    assert (default.time_budget, default.epochs) == (300.0, TrainConfig().epochs)  # a first model in 5 minutes
    lifted = train_command.build_config(_args(time=0.0))
    assert (lifted.time_budget, lifted.epochs) == (0.0, TrainConfig().epochs)  # --time 0: no budget
    config = train_command.build_config(_args(time=600.0))
    assert (config.time_budget, config.epochs) == (600.0, train_command.BUDGET_EPOCHS)
    assert train_command.build_config(_args(time=600.0, epochs=5)).epochs == 5
    with pytest.raises(ConfigError, match="time_budget"):
        TrainConfig(time_budget=-1).validate()


def test_clock_refuses_an_epoch_that_would_end_past_the_budget(monkeypatch) -> None:
    now = [100.0]
    monkeypatch.setattr(engine_train.time, "perf_counter", lambda: now[0])
    clock = engine_train._Clock(TrainConfig(steps_per_epoch=10))
    assert clock.next_epoch_fits(1.0)  # nothing measured yet: the first epoch always runs
    clock.step_done(5.0)  # compilation, not counted
    clock.step_done(2.0)
    clock.validation_done(4.0)
    now[0] = 150.0  # 50 s spent; an epoch takes 10 x 2 + 4 = 24 s
    assert clock.next_epoch_fits(74.0)
    assert not clock.next_epoch_fits(73.9)
