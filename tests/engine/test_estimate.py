"""The training time estimate said before the first step: it follows the work a run does."""

from __future__ import annotations

import pytest

from mia_core.engine import estimate as est
from mia_core.engine.config import TrainConfig


def test_a_step_costs_in_proportion_to_batch_and_patch_area_and_cpus() -> None:
    base = TrainConfig()
    one = est.step_seconds(base, cores=2, load=0.0)
    assert one == pytest.approx(est.STEP_SECONDS[(base.architecture, base.backbone)])
    assert est.step_seconds(base.replace(batch_size=8), cores=2, load=0.0) == pytest.approx(2 * one)
    assert est.step_seconds(base.replace(patch_size=256), cores=2, load=0.0) == pytest.approx(4 * one)
    assert est.step_seconds(base, cores=4, load=0.0) == pytest.approx(one / 2)
    # Two other busy jobs on two cores: each gets half the machine.
    assert est.step_seconds(base, cores=2, load=2.0) == pytest.approx(2 * one)


def test_the_estimate_counts_every_epoch_and_is_bounded_by_the_time_budget() -> None:
    short = TrainConfig(epochs=2, steps_per_epoch=10)
    long = short.replace(epochs=4)
    a, b = est.estimate(short, cores=2, load=0.0), est.estimate(long, cores=2, load=0.0)
    step = est.step_seconds(short, 2, 0.0)
    per_epoch = (10 + (64 / 4) / 3) * step  # the steps, and validation of 64 patches at a third of a step each
    assert b.seconds - a.seconds == pytest.approx(2 * per_epoch)
    assert a.seconds == pytest.approx(est.COMPILE_SECONDS + 2 * per_epoch)
    assert "2 epoch(s) of 10 steps" in a.text and a.text.startswith("estimated time: about ")
    assert b.seconds > 20.0
    bounded = est.estimate(long.replace(time_budget=20.0), cores=2, load=0.0)
    assert bounded.seconds == 20.0 and "the time budget" in bounded.text
    guess = est.estimate(short.replace(backbone="resnet152"), cores=2, load=0.0)
    assert "not calibrated" in guess.text
