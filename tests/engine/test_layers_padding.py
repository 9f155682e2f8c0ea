"""PyTorch-style explicit padding of the layer kit (what converted torchvision/timm weights need)
against plain lax references with the same explicit padding."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from mia_core.engine import layers


def _reference(x, w, stride, groups, p):
    return lax.conv_general_dilated(
        x, w, (stride, stride), [(p, p), (p, p)], dimension_numbers=("NHWC", "HWIO", "NHWC"),
        feature_group_count=groups,
    )


@pytest.mark.parametrize("method", ["xla", "blocked", "taps"])
@pytest.mark.parametrize(
    "h,w,cin,cout,k,s,g,p",
    [(8, 8, 3, 5, 3, 2, 1, 1), (9, 10, 4, 4, 3, 2, 4, 1), (16, 16, 3, 4, 7, 2, 1, 3), (9, 9, 4, 6, 3, 2, 1, 0)],
)
def test_conv2d_int_padding_matches_lax(monkeypatch, method, h, w, cin, cout, k, s, g, p):
    monkeypatch.setattr(layers, "WEIGHT_GRADIENT", method)
    rng = np.random.default_rng(k + s + p)
    x = jnp.asarray(rng.normal(size=(2, h, w, cin)), jnp.float32)
    kern = jnp.asarray(rng.normal(size=(k, k, cin // g, cout)), jnp.float32)
    ref = _reference(x, kern, s, g, p)
    got = layers.conv2d(x, kern, s, g, p)
    assert got.shape == ref.shape == (2, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1, cout)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    cot = jnp.asarray(rng.normal(size=ref.shape), jnp.float32)
    grads = jax.grad(lambda a, b: jnp.sum(layers.conv2d(a, b, s, g, p) * cot), (0, 1))(x, kern)
    refs = jax.grad(lambda a, b: jnp.sum(_reference(a, b, s, g, p) * cot), (0, 1))(x, kern)
    for got_g, ref_g in zip(grads, refs):
        np.testing.assert_allclose(got_g, ref_g, rtol=1e-5, atol=1e-4)


def test_even_input_stride_two_differs_between_same_and_symmetric_padding():
    """SAME pads (0, 1) where PyTorch pads (1, 1): the two must not be confused."""
    x = jnp.asarray(np.random.default_rng(0).normal(size=(1, 8, 8, 2)), jnp.float32)
    kern = jnp.ones((3, 3, 2, 1), jnp.float32)
    same, torch_like = layers.conv2d(x, kern, 2, 1, "same"), layers.conv2d(x, kern, 2, 1, 1)
    assert same.shape == torch_like.shape
    assert not np.allclose(same, torch_like)


@pytest.mark.parametrize("shape,window,stride,p", [((2, 8, 8, 3), 3, 2, 1), ((1, 9, 7, 2), 3, 2, 1), ((1, 8, 8, 2), 3, 2, 0), ((1, 6, 6, 1), 3, 1, 1)])
def test_max_pool_int_padding_matches_reduce_window(shape, window, stride, p):
    rng = np.random.default_rng(window * stride + p)
    x = jnp.asarray(np.maximum(np.round(rng.normal(size=shape), 1), 0.0), jnp.float32)

    def reference(v):
        return lax.reduce_window(
            v, -jnp.inf, lax.max, (1, window, window, 1), (1, stride, stride, 1),
            ((0, 0), (p, p), (p, p), (0, 0)),
        )

    out = reference(x)
    np.testing.assert_array_equal(layers.max_pool(x, window, stride, p), out)
    dy = jnp.asarray(rng.normal(size=out.shape), jnp.float32)
    got = jax.vjp(lambda u: layers.max_pool(u, window, stride, p), x)[1](dy)[0]
    ref = jax.vjp(reference, x)[1](dy)[0]
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)


def test_bad_padding_is_refused_by_name():
    with pytest.raises(ValueError, match="padding must be 'same' or a non-negative int"):
        layers.Conv2d(3, 4, 3, padding="valid", rngs=__import__("flax").nnx.Rngs(0))
