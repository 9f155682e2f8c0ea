"""Optax optimizers whose learning rate the host can change between epochs (``inject_hyperparams``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax
from flax import nnx

from mia_core.engine.config import ConfigError, TrainConfig


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
    """The optax transformation named by ``config.optimizer`` at ``config.learning_rate``."""
    lr = config.learning_rate
    if config.optimizer == "adam":
        return optax.inject_hyperparams(optax.adam)(learning_rate=lr)
    if config.optimizer == "adamw":
        return optax.inject_hyperparams(optax.adamw)(learning_rate=lr, weight_decay=config.weight_decay)
    if config.optimizer == "sgd-nesterov":
        return optax.inject_hyperparams(optax.sgd, static_args=("nesterov",))(
            learning_rate=lr, momentum=config.momentum, nesterov=True
        )
    raise ConfigError(f"setting 'optimizer' must be adam, adamw or sgd-nesterov; got {config.optimizer!r}")


def set_learning_rate(optimizer: nnx.Optimizer, rate: float) -> None:
    """Change the learning rate used by the following updates (keeps its sharding)."""
    var = optimizer.opt_state.hyperparams["learning_rate"]
    old = var.get_value()
    new = jnp.asarray(rate, dtype=old.dtype)
    sharding = getattr(old, "sharding", None)
    if sharding is not None:
        new = jax.device_put(new, sharding)
    var.set_value(new)


def learning_rate(optimizer: nnx.Optimizer) -> float:
    """The learning rate the next update will use."""
    return float(optimizer.opt_state.hyperparams["learning_rate"].get_value())
