"""Learning-rate schedules, early stopping, and the optimizers the host re-tunes between epochs."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from mia_core.engine.config import TrainConfig
from mia_core.engine.optim import learning_rate, make_optimizer, set_learning_rate
from mia_core.engine.schedule import LearningRateSchedule


def test_constant_and_step_schedules():
    const = LearningRateSchedule(TrainConfig(learning_rate=0.01, schedule="constant"))
    assert [const.rate_for_epoch(e) for e in range(5)] == [0.01] * 5
    step = LearningRateSchedule(TrainConfig(learning_rate=0.01, schedule="step", step_epochs=2, step_gamma=0.5))
    assert [step.rate_for_epoch(e) for e in range(6)] == pytest.approx([0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025])
    floor = LearningRateSchedule(TrainConfig(learning_rate=0.01, schedule="step", step_epochs=1,
                                             step_gamma=0.1, min_learning_rate=1e-4))
    assert floor.rate_for_epoch(5) == pytest.approx(1e-4)


def test_cosine_anneals_over_the_epochs_or_the_planned_ones():
    cfg = TrainConfig(learning_rate=0.01, epochs=4, min_learning_rate=0.0, schedule="cosine")
    s = LearningRateSchedule(cfg)
    assert [s.rate_for_epoch(e) for e in range(4)] == pytest.approx(
        [0.01, 0.01 * (1 + np.cos(np.pi / 4)) / 2, 0.005, 0.01 * (1 + np.cos(3 * np.pi / 4)) / 2])
    budgeted = LearningRateSchedule(TrainConfig(learning_rate=0.01, epochs=1000, min_learning_rate=1e-4,
                                                schedule="cosine"))
    # a time budget that fits 10 epochs: the run ends near the floor, not at 99 % of the rate
    assert budgeted.rate_for_epoch(9, planned_epochs=10) == pytest.approx(1e-4 + (0.01 - 1e-4) * (1 + np.cos(0.9 * np.pi)) / 2)
    assert budgeted.rate_for_epoch(9, planned_epochs=10) < 0.0004
    # an epoch past the plan (the budget re-planned shorter) still gets a rate above the floor
    assert 1e-4 < budgeted.rate_for_epoch(12, planned_epochs=10) < 0.0004


def test_time_budget_plans_the_epochs_that_still_fit():
    import time

    from mia_core.engine.train import _Clock

    clock = _Clock(TrainConfig(steps_per_epoch=10, time_budget=100))
    assert clock.planned_epochs(0, 100) is None  # nothing timed yet
    clock.step_time, clock.val_time = 0.9, 1.0  # 10 s an epoch
    clock.started = time.perf_counter() - 25  # 25 s spent: 7 more epochs fit in the 75 s left
    assert clock.planned_epochs(3, 100) == 10
    clock.started = time.perf_counter() - 99.5
    assert clock.planned_epochs(9, 100) == 10  # always at least the epoch about to run


def test_reduce_on_plateau_and_early_stopping():
    cfg = TrainConfig(learning_rate=0.1, schedule="reduce-on-plateau", plateau_patience=2, plateau_factor=0.5,
                      early_stopping=4)
    s = LearningRateSchedule(cfg)
    rates, stops = [], []
    for epoch, metric in enumerate([0.5, 0.6, 0.6, 0.55, 0.7, 0.7, 0.7, 0.7, 0.7]):
        rates.append(s.rate_for_epoch(epoch))
        s.end_epoch(epoch, metric)
        stops.append(s.should_stop())
    assert rates == pytest.approx([0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025])
    assert stops == [False] * 8 + [True]
    assert s.state.best == 0.7 and s.state.best_epoch == 4


def _params():
    return {"w": jnp.array([1.0, -2.0, 3.0])}


@pytest.mark.parametrize(
    "name,reference",
    [
        ("adam", lambda lr: optax.adam(lr)),
        ("adamw", lambda lr: optax.adamw(lr, weight_decay=1e-4)),
        ("sgd-nesterov", lambda lr: optax.sgd(lr, momentum=0.9, nesterov=True)),
    ],
)
def test_optimizers_match_optax_after_a_rate_change(name, reference):
    """Two updates at 0.1, then two at 0.01 set from the host, equal optax's own optimizer."""
    cfg = TrainConfig(optimizer=name, learning_rate=0.1)
    tx = make_optimizer(cfg)
    grads = [{"w": jnp.array([0.3, -0.1, 0.2]) * (k + 1)} for k in range(4)]
    params, state = _params(), tx.init(_params())
    ref_hi, ref_lo = reference(0.1), reference(0.01)
    ref_params, ref_state = _params(), ref_hi.init(_params())
    for k, g in enumerate(grads):
        if k == 2:
            state.hyperparams["learning_rate"] = jnp.asarray(0.01)
        upd, state = tx.update(g, state, params)
        params = optax.apply_updates(params, upd)
        ref_tx = ref_hi if k < 2 else ref_lo  # same state layout; only the rate differs
        rupd, ref_state = ref_tx.update(g, ref_state, ref_params)
        ref_params = optax.apply_updates(ref_params, rupd)
    np.testing.assert_allclose(params["w"], ref_params["w"], rtol=1e-5)


def test_set_learning_rate_changes_nnx_optimizer_updates():
    model = nnx.Linear(2, 1, rngs=nnx.Rngs(0))
    opt = nnx.Optimizer(model, make_optimizer(TrainConfig(optimizer="sgd-nesterov", learning_rate=0.5)),
                        wrt=nnx.Param)
    set_learning_rate(opt, 0.125)
    assert learning_rate(opt) == 0.125
    before = np.asarray(model.bias[...])
    grads = jax.tree.map(jnp.ones_like, nnx.state(model, nnx.Param))
    opt.update(model, grads)
    # Nesterov SGD's first step moves by lr * (1 + momentum) * g.
    np.testing.assert_allclose(np.asarray(model.bias[...]), before - 0.125 * 1.9, rtol=1e-6)
