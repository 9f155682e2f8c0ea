"""Pixel-weighted softmax focal loss (Lin et al. 2017): down-weights pixels already right."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mia_core.hooks import hookimpl


@dataclass(frozen=True)
class FocalLoss:
    """Mean of ``-sum_k onehot_k (1 - p_k)^gamma log p_k`` over pixels, weighted per pixel."""

    name: str = "focal"
    gamma: float = 2.0

    def __call__(self, logits: Any, onehot: Any, weights: Any) -> Any:
        """Weighted mean focal loss; gamma = 0 is cross-entropy; 0 when no pixel has weight."""
        import jax
        import jax.numpy as jnp

        logp = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
        modulation = (1.0 - jnp.exp(logp)) ** self.gamma
        per_pixel = -jnp.sum(onehot * modulation * logp, axis=-1)
        return jnp.sum(per_pixel * weights) / jnp.maximum(jnp.sum(weights), 1e-8)


@hookimpl
def mia_losses() -> list[FocalLoss]:
    """Register the focal loss."""
    return [FocalLoss()]
