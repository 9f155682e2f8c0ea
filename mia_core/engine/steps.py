"""The jitted training and evaluation steps (``nnx.jit``; the loss sees one-hot targets)."""

from __future__ import annotations

import functools
from typing import Any, Callable

import jax
import jax.numpy as jnp
from flax import nnx

LossFn = Callable[[jax.Array, jax.Array, jax.Array], jax.Array]


@functools.lru_cache(maxsize=8)
def make_train_step(loss_fn: LossFn, num_classes: int) -> Callable[..., jax.Array]:
    """A step that updates ``model`` through ``optimizer`` on one batch and returns the loss.

    Cached per (loss, classes) so a resumed or repeated run in the same process reuses the
    compiled step (``nnx.jit`` itself caches per model structure).
    """

    @nnx.jit
    def train_step(model: nnx.Module, optimizer: nnx.Optimizer, images: Any, targets: Any, weights: Any):
        def batch_loss(m: nnx.Module) -> jax.Array:
            logits = m(images)
            onehot = jax.nn.one_hot(targets, num_classes, dtype=jnp.float32)
            return loss_fn(logits.astype(jnp.float32), onehot, weights)

        loss, grads = nnx.value_and_grad(batch_loss)(model)
        optimizer.update(model, grads)
        return loss

    return train_step


@nnx.jit
def predict_classes(model: nnx.Module, images: Any) -> jax.Array:
    """Most likely class of every pixel, (B, H, W) int32."""
    return jnp.argmax(model(images), axis=-1).astype(jnp.int32)


@nnx.jit
def predict_probabilities(model: nnx.Module, images: Any) -> jax.Array:
    """Class probabilities of every pixel, (B, H, W, K) float32."""
    return jax.nn.softmax(model(images).astype(jnp.float32), axis=-1)
