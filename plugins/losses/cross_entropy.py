"""Pixel-weighted softmax cross-entropy (one-hot form: compiles faster than integer labels)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mia_core.hooks import hookimpl


@dataclass(frozen=True)
class CrossEntropyLoss:
    """Mean of ``-sum_k onehot_k log softmax_k`` over pixels, weighted per pixel (0 = ignored)."""

    name: str = "cross_entropy"

    def __call__(self, logits: Any, onehot: Any, weights: Any) -> Any:
        """Weighted mean cross-entropy; 0 when no pixel has weight."""
        import jax
        import jax.numpy as jnp

        logp = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
        per_pixel = -jnp.sum(onehot * logp, axis=-1)
        return jnp.sum(per_pixel * weights) / jnp.maximum(jnp.sum(weights), 1e-8)


@hookimpl
def mia_losses() -> list[CrossEntropyLoss]:
    """Register cross-entropy."""
    return [CrossEntropyLoss()]
