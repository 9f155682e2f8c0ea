"""Pixel-weighted soft Dice loss: 1 - mean over classes of the Dice overlap of softmax and target.

Sums run over every pixel of the batch, each pixel counted with its weight (0 = ignored), so
small structures weigh as much as large ones. With ``smooth`` s, class k's score is
``(I_k + s) / ((P_k + G_k) / 2 + s)`` (optax's convention), I = weighted sum of p*g,
P = weighted sum of p, G = weighted sum of g, with the weights rescaled to mean 1 over the
counted pixels (so, as for the other losses, only their ratios matter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mia_core.hooks import hookimpl


@dataclass(frozen=True)
class DiceLoss:
    """Soft multi-class Dice loss over the weighted pixels of a batch."""

    name: str = "dice"
    smooth: float = 1.0

    def __call__(self, logits: Any, onehot: Any, weights: Any) -> Any:
        """1 - mean class Dice score (classes absent from target and prediction score ~1)."""
        import jax
        import jax.numpy as jnp

        p = jax.nn.softmax(logits.astype(jnp.float32), axis=-1)
        # rescale weights to mean 1 over counted pixels: the loss then ignores the weights' unit
        # and ``smooth`` stays relative to pixel counts
        counted = jnp.sum(weights > 0)
        w = (weights * counted / jnp.maximum(jnp.sum(weights), 1e-8))[..., None]
        axes = tuple(range(p.ndim - 1))
        intersection = jnp.sum(w * p * onehot, axis=axes)
        total = jnp.sum(w * (p + onehot), axis=axes)
        score = (intersection + self.smooth) / (0.5 * total + self.smooth)
        return 1.0 - jnp.mean(score)


@hookimpl
def mia_losses() -> list[DiceLoss]:
    """Register the Dice loss."""
    return [DiceLoss()]
