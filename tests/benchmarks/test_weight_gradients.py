"""The benchmark-only kernel-gradient formulations against XLA's own (lax) gradient."""

from __future__ import annotations

import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from mia_core.engine import layers

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import weight_gradients  # noqa: E402


def _reference(x, w, stride, groups):
    """lax convolution with explicit SAME padding computed the TensorFlow way."""
    return lax.conv_general_dilated(
        x, w, (stride, stride), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"),
        feature_group_count=groups,
    )


@pytest.mark.parametrize("method", ["blocked", "taps"])
@pytest.mark.parametrize(
    "shape,kernel,stride",
    [((2, 8, 8, 3), (3, 3, 3, 5), 1), ((2, 9, 7, 4), (3, 3, 4, 6), 2), ((1, 16, 16, 3), (7, 7, 3, 4), 2),
     ((2, 8, 6, 4), (1, 1, 4, 6), 2)],
)
def test_each_kernel_gradient_method_matches_xla(method, shape, kernel, stride):
    rng = np.random.default_rng(sum(kernel) + stride)
    x = jnp.asarray(rng.normal(size=shape), jnp.float32)
    out = (shape[0], -(-shape[1] // stride), -(-shape[2] // stride), kernel[3])
    dy = jnp.asarray(rng.normal(size=out), jnp.float32)
    got = jax.jit(lambda a, b: weight_gradients.weight_grad(method, a, b, kernel, stride, 1))(x, dy)
    ref = jax.jit(
        lambda a, b: jax.vjp(lambda w: _reference(a, w, stride, 1), jnp.zeros(kernel))[1](b)[0]
    )(x, dy)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-4)


def test_auto_kernel_gradient_uses_blocks_only_for_wide_layers(monkeypatch):
    calls = []
    real = weight_gradients.blocked_weight_grad
    monkeypatch.setattr(
        weight_gradients, "blocked_weight_grad", lambda *a: calls.append(a[2:]) or real(*a)
    )
    wide = jax.ShapeDtypeStruct((1, 32, 32, 4), jnp.float32), jax.ShapeDtypeStruct((1, 32, 32, 64), jnp.float32)
    narrow = wide[0], jax.ShapeDtypeStruct((1, 32, 32, 32), jnp.float32)
    jax.eval_shape(lambda a, b: weight_gradients.weight_grad("auto", a, b, (3, 3, 4, 64), 1, 1), *wide)
    assert calls == [(3, 3, 1)]
    zeros = [jnp.zeros(s.shape) for s in narrow]
    assert weight_gradients.weight_grad("auto", *zeros, (3, 3, 4, 32), 1, 1) is None
    assert weight_gradients.weight_grad("xla", *[jnp.zeros(s.shape) for s in wide], (3, 3, 4, 64), 1, 1) is None


@pytest.mark.parametrize("method", ["blocked", "taps"])
def test_installed_method_gives_conv2d_the_same_gradient(monkeypatch, method):
    monkeypatch.setattr(layers, "WEIGHT_GRADIENT", None)
    rng = np.random.default_rng(5)
    x = jnp.asarray(rng.normal(size=(2, 9, 7, 4)), jnp.float32)
    w = jnp.asarray(rng.normal(size=(3, 3, 4, 6)), jnp.float32)
    dy = jnp.asarray(rng.normal(size=(2, 5, 4, 6)), jnp.float32)
    want = jax.vjp(lambda ww: _reference(x, ww, 2, 1), w)[1](dy)[0]
    weight_gradients.install(method)
    got = jax.vjp(lambda ww: layers.conv2d(x, ww, 2, 1), w)[1](dy)[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match="blocked"):
        weight_gradients.install("fastest")
