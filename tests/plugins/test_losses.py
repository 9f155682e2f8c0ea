"""Losses against independent numpy references and optax, with per-pixel weights."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mia_core.api import check_component
from mia_plugins.losses import cross_entropy, dice, focal, kl_divergence

K = 3


def _batch(seed: int = 0, soft: bool = False):
    """Logits, one-hot (or soft) targets and weights with ignored (0) pixels, as numpy."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, (2, 5, 6, K)).astype(np.float32)
    if soft:
        target = rng.dirichlet(np.ones(K), (2, 5, 6)).astype(np.float32)
        target[0, 0, 0] = [1.0, 0.0, 0.0]  # a hard pixel: 0 log 0 must count as 0
    else:
        target = np.eye(K, dtype=np.float32)[rng.integers(0, K, (2, 5, 6))]
    weights = rng.uniform(0.5, 2.0, (2, 5, 6)).astype(np.float32)
    weights[rng.random((2, 5, 6)) < 0.3] = 0.0
    return logits, target, weights


def _log_softmax(z):
    z = z.astype(np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _weighted_mean(per_pixel, w):
    return (per_pixel * w).sum() / w.sum()


def test_cross_entropy_matches_numpy_and_optax():
    logits, onehot, w = _batch()
    got = float(cross_entropy.CrossEntropyLoss()(jnp.asarray(logits), jnp.asarray(onehot), jnp.asarray(w)))
    ref = _weighted_mean(-(onehot * _log_softmax(logits)).sum(-1), w)
    per_optax = np.asarray(optax.softmax_cross_entropy(logits, onehot))
    assert got == pytest.approx(ref, rel=1e-5)
    assert got == pytest.approx(_weighted_mean(per_optax, w), rel=1e-5)


@pytest.mark.parametrize("gamma", [2.0, 0.5])
def test_focal_matches_numpy(gamma):
    logits, onehot, w = _batch(1)
    got = float(focal.FocalLoss(gamma=gamma)(jnp.asarray(logits), jnp.asarray(onehot), jnp.asarray(w)))
    logp = _log_softmax(logits)
    ref = _weighted_mean(-(onehot * (1 - np.exp(logp)) ** gamma * logp).sum(-1), w)
    assert got == pytest.approx(ref, rel=1e-5)


def test_focal_default_gamma_is_two_and_gamma_zero_is_optax_cross_entropy():
    assert focal.FocalLoss().gamma == 2.0
    logits, onehot, w = _batch(2)
    got = float(focal.FocalLoss(gamma=0.0)(jnp.asarray(logits), jnp.asarray(onehot), jnp.asarray(w)))
    ref = _weighted_mean(np.asarray(optax.softmax_cross_entropy(logits, onehot)), w)
    assert got == pytest.approx(ref, rel=1e-5)


def test_focal_binary_case_matches_optax_sigmoid_focal_loss():
    # two-class softmax with logits (0, z) is a sigmoid of z; alpha=None is the plain focal loss
    rng = np.random.default_rng(3)
    z = rng.normal(0, 2, (2, 4, 4)).astype(np.float32)
    labels = rng.integers(0, 2, (2, 4, 4)).astype(np.float32)
    w = np.ones_like(z)
    logits = np.stack([np.zeros_like(z), z], axis=-1)
    onehot = np.stack([1 - labels, labels], axis=-1)
    got = float(focal.FocalLoss()(jnp.asarray(logits), jnp.asarray(onehot), jnp.asarray(w)))
    ref = np.asarray(optax.sigmoid_focal_loss(z, labels, alpha=None, gamma=2.0)).mean()
    assert got == pytest.approx(float(ref), rel=1e-5)


def test_kl_divergence_matches_numpy_and_optax_on_soft_targets():
    logits, target, w = _batch(4, soft=True)
    got = float(kl_divergence.KLDivergenceLoss()(jnp.asarray(logits), jnp.asarray(target), jnp.asarray(w)))
    logp = _log_softmax(logits)
    t = target.astype(np.float64)
    entropy = np.where(t > 0, t * np.log(np.where(t > 0, t, 1)), 0.0)
    ref = _weighted_mean((entropy - t * logp).sum(-1), w)
    per_optax = np.asarray(optax.kl_divergence(jnp.asarray(logp, jnp.float32), target))
    assert got == pytest.approx(ref, rel=1e-5)
    assert got == pytest.approx(_weighted_mean(per_optax, w), rel=1e-5)


def test_kl_divergence_equals_cross_entropy_for_hard_targets():
    logits, onehot, w = _batch(5)
    args = jnp.asarray(logits), jnp.asarray(onehot), jnp.asarray(w)
    assert float(kl_divergence.KLDivergenceLoss()(*args)) == pytest.approx(
        float(cross_entropy.CrossEntropyLoss()(*args)), rel=1e-5
    )


def test_dice_matches_numpy_reference():
    logits, onehot, w = _batch(6)
    got = float(dice.DiceLoss()(jnp.asarray(logits), jnp.asarray(onehot), jnp.asarray(w)))
    p = np.exp(_log_softmax(logits))
    wk = (w * np.count_nonzero(w) / w.sum())[..., None].astype(np.float64)
    inter = (wk * p * onehot).sum(axis=(0, 1, 2))
    total = (wk * p).sum(axis=(0, 1, 2)) + (wk * onehot).sum(axis=(0, 1, 2))
    ref = 1 - np.mean((2 * inter + 2) / (total + 2))
    assert got == pytest.approx(ref, rel=1e-5)


def test_dice_on_unignored_pixels_matches_optax():
    logits, onehot, w = _batch(7)
    w = (w > 0).astype(np.float32)  # 0/1 weights: optax sees only the counted pixels
    got = float(dice.DiceLoss()(jnp.asarray(logits), jnp.asarray(onehot), jnp.asarray(w)))
    keep = w > 0
    ref = optax.losses.dice_loss(logits[keep], onehot[keep], axis=0, smooth=1.0)
    assert got == pytest.approx(float(ref), rel=1e-5)


LOSSES = [
    cross_entropy.CrossEntropyLoss(),
    focal.FocalLoss(),
    kl_divergence.KLDivergenceLoss(),
    dice.DiceLoss(),
]


@pytest.mark.parametrize("loss", LOSSES, ids=lambda loss: loss.name)
def test_ignored_pixels_change_nothing_and_get_no_gradient(loss):
    logits, onehot, w = _batch(8)
    ignored = w == 0
    scrambled = logits.copy()
    scrambled[ignored] = np.random.default_rng(9).normal(0, 5, scrambled[ignored].shape)
    args = jnp.asarray(onehot), jnp.asarray(w)
    assert float(loss(jnp.asarray(scrambled), *args)) == pytest.approx(
        float(loss(jnp.asarray(logits), *args)), rel=1e-6
    )
    grad = np.asarray(jax.grad(lambda z: loss(z, *args))(jnp.asarray(logits)))
    assert np.all(grad[ignored] == 0) and np.any(grad[~ignored] != 0)


@pytest.mark.parametrize("loss", LOSSES, ids=lambda loss: loss.name)
def test_pixel_weights_scale_each_pixels_share(loss):
    logits, onehot, w = _batch(10)
    # only the ratios of weights matter
    a = float(loss(jnp.asarray(logits), jnp.asarray(onehot), jnp.asarray(w)))
    b = float(loss(jnp.asarray(logits), jnp.asarray(onehot), jnp.asarray(3 * w)))
    assert a == pytest.approx(b, rel=1e-5)
    if loss.name == "dice":  # not a mean over pixels: no duplicate-pixel identity
        return
    # weight 2 on a pixel counts like two copies of it
    w = np.ones(logits.shape[:-1], np.float32)
    w[0, 0, 0] = 2.0
    dup_logits = np.concatenate([logits.reshape(-1, K), logits[0, 0, 0][None]])[None, None]
    dup_onehot = np.concatenate([onehot.reshape(-1, K), onehot[0, 0, 0][None]])[None, None]
    weighted = float(loss(jnp.asarray(logits), jnp.asarray(onehot), jnp.asarray(w)))
    duplicated = float(
        loss(jnp.asarray(dup_logits), jnp.asarray(dup_onehot), jnp.ones(dup_logits.shape[:-1]))
    )
    assert weighted == pytest.approx(duplicated, rel=1e-5)


@pytest.mark.parametrize("loss", LOSSES, ids=lambda loss: loss.name)
def test_no_weighted_pixel_gives_finite_loss(loss):
    logits, onehot, w = _batch(11)
    value = float(loss(jnp.asarray(logits), jnp.asarray(onehot), jnp.zeros_like(jnp.asarray(w))))
    assert np.isfinite(value)


@pytest.mark.parametrize("loss", LOSSES, ids=lambda loss: loss.name)
def test_confident_correct_prediction_has_near_zero_loss(loss):
    _, onehot, w = _batch(12)
    logits = 30.0 * (onehot - 0.5)
    assert float(loss(jnp.asarray(logits), jnp.asarray(onehot), jnp.asarray(w))) < 1e-5
    assert float(loss(jnp.asarray(-logits), jnp.asarray(onehot), jnp.asarray(w))) > 0.5


@pytest.mark.parametrize(
    "module,name",
    [(cross_entropy, "cross_entropy"), (focal, "focal"), (kl_divergence, "kl_divergence"), (dice, "dice")],
)
def test_plugin_registers_one_valid_loss(module, name):
    components = module.mia_losses()
    assert [c.name for c in components] == [name]
    assert check_component("losses", components[0]) is None
