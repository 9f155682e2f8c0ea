"""Pixel-weighted KL divergence KL(target || softmax(logits)), for soft (e.g. smoothed) targets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mia_core.hooks import hookimpl


@dataclass(frozen=True)
class KLDivergenceLoss:
    """Mean of ``sum_k t_k (log t_k - log softmax_k)`` over pixels (0 log 0 = 0), weighted."""

    name: str = "kl_divergence"

    def __call__(self, logits: Any, onehot: Any, weights: Any) -> Any:
        """Weighted mean KL divergence; equals cross-entropy for hard one-hot targets."""
        import jax
        import jax.numpy as jnp

        logp = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
        target = onehot.astype(jnp.float32)
        entropy_term = jax.scipy.special.xlogy(target, target)
        per_pixel = jnp.sum(entropy_term - target * logp, axis=-1)
        return jnp.sum(per_pixel * weights) / jnp.maximum(jnp.sum(weights), 1e-8)


@hookimpl
def mia_losses() -> list[KLDivergenceLoss]:
    """Register the KL divergence loss."""
    return [KLDivergenceLoss()]
