"""The engine's building blocks against plain lax / numpy references."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax import lax

from mia_core.engine import layers

# (batch, height, width, in, out, kernel, stride, groups)
CASES = [
    (2, 8, 8, 3, 5, 3, 1, 1),
    (2, 9, 7, 4, 6, 3, 2, 1),  # odd sizes, strided: asymmetric SAME padding
    (1, 8, 8, 4, 6, 1, 1, 1),
    (2, 8, 6, 4, 6, 1, 2, 1),
    (1, 16, 16, 3, 4, 7, 2, 1),  # ResNet stem
    (2, 8, 8, 6, 6, 3, 1, 6),  # depthwise
    (2, 9, 9, 6, 6, 3, 2, 6),  # strided depthwise
    (2, 8, 8, 4, 6, 3, 1, 2),  # grouped: falls back to XLA's kernel gradient
    (2, 8, 8, 3, 6, 3, 1, 3),  # depthwise with channel multiplier 2: fallback
    (1, 32, 32, 4, 64, 3, 1, 1),  # wide enough for the blocked kernel gradient
    (1, 64, 64, 3, 64, 3, 2, 1),  # strided, blocked
]


def _reference(x, w, stride, groups):
    """lax convolution with explicit SAME padding computed the TensorFlow way."""
    return lax.conv_general_dilated(
        x, w, (stride, stride), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"),
        feature_group_count=groups,
    )


@pytest.mark.parametrize("b,h,w,cin,cout,k,s,g", CASES)
def test_conv2d_matches_lax_values_and_gradients(b, h, w, cin, cout, k, s, g):
    rng = np.random.default_rng(k * 10 + s + g)
    x = jnp.asarray(rng.normal(size=(b, h, w, cin)), jnp.float32)
    kern = jnp.asarray(rng.normal(size=(k, k, cin // g, cout)), jnp.float32)
    ref_y = jax.jit(_reference, static_argnums=(2, 3))(x, kern, s, g)
    cot = jnp.asarray(rng.normal(size=ref_y.shape), jnp.float32)

    y = jax.jit(layers.conv2d, static_argnums=(2, 3))(x, kern, s, g)
    assert y.shape == ref_y.shape == (b, -(-h // s), -(-w // s), cout)
    np.testing.assert_allclose(y, ref_y, rtol=1e-5, atol=1e-5)

    def loss(f):
        return lambda xx, ww: jnp.sum(f(xx, ww, s, g) * cot)

    dx, dw = jax.jit(jax.grad(loss(layers.conv2d), argnums=(0, 1)))(x, kern)
    ref_dx, ref_dw = jax.jit(jax.grad(loss(_reference), argnums=(0, 1)))(x, kern)
    np.testing.assert_allclose(dx, ref_dx, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(dw, ref_dw, rtol=1e-5, atol=1e-4)


def test_conv2d_module_adds_bias_and_has_hwio_kernel():
    conv = layers.Conv2d(3, 4, kernel_size=3, stride=2, rngs=nnx.Rngs(0))
    conv.bias[...] = jnp.arange(4.0)
    x = jnp.asarray(np.random.default_rng(1).normal(size=(2, 10, 10, 3)), jnp.float32)
    assert conv.kernel[...].shape == (3, 3, 3, 4)
    ref = _reference(x, conv.kernel[...], 2, 1) + jnp.arange(4.0)
    np.testing.assert_allclose(conv(x), ref, rtol=1e-5, atol=1e-5)
    # He-normal init: kernel std close to sqrt(2 / fan_in)
    big = layers.Conv2d(64, 64, 3, rngs=nnx.Rngs(0))
    assert abs(float(jnp.std(big.kernel[...])) - np.sqrt(2 / (9 * 64))) < 0.01


def test_conv2d_rejects_channels_not_divisible_by_groups():
    with pytest.raises(ValueError, match="groups"):
        layers.Conv2d(6, 4, groups=4, rngs=nnx.Rngs(0))


def test_conv2d_bfloat16_compute_dtype():
    conv = layers.Conv2d(3, 4, dtype=jnp.bfloat16, rngs=nnx.Rngs(0))
    x = jnp.asarray(np.random.default_rng(2).normal(size=(1, 8, 8, 3)), jnp.float32)
    y = conv(x)
    assert y.dtype == jnp.bfloat16
    ref = _reference(x, conv.kernel[...], 1, 1)
    np.testing.assert_allclose(np.asarray(y, np.float32), ref, rtol=0.05, atol=0.1)
    grad = nnx.grad(lambda m: jnp.sum(m(x).astype(jnp.float32) ** 2))(conv)
    assert grad.kernel[...].dtype == jnp.float32


def test_batch_norm_uses_momentum_point_nine():
    bn = layers.batch_norm(2, nnx.Rngs(0))
    x = np.random.default_rng(0).normal(3.0, 2.0, (4, 5, 5, 2)).astype(np.float32)
    y = bn(jnp.asarray(x))
    mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-5), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bn.mean[...], 0.1 * mean, rtol=1e-5)
    np.testing.assert_allclose(bn.var[...], 0.9 + 0.1 * var, rtol=1e-5)


def _numpy_max_pool(x, window, stride):
    b, h, w, c = x.shape
    oh, ow = -(-h // stride), -(-w // stride)
    ph = max((oh - 1) * stride + window - h, 0) // 2
    pw = max((ow - 1) * stride + window - w, 0) // 2
    out = np.full((b, oh, ow, c), -np.inf, x.dtype)
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * stride - ph, j * stride - pw
            patch = x[:, max(r0, 0) : r0 + window, max(c0, 0) : c0 + window]
            out[:, i, j] = patch.max(axis=(1, 2))
    return out


@pytest.mark.parametrize("shape,window,stride", [((2, 8, 6, 3), 2, 2), ((1, 9, 8, 2), 3, 2)])
def test_max_pool_matches_numpy(shape, window, stride):
    x = np.random.default_rng(1).normal(size=shape).astype(np.float32)
    np.testing.assert_array_equal(
        layers.max_pool(jnp.asarray(x), window, stride), _numpy_max_pool(x, window, stride)
    )


def test_max_pool_gradient_goes_to_the_maximum():
    x = np.random.default_rng(2).normal(size=(1, 4, 4, 1)).astype(np.float32)
    g = np.asarray(jax.grad(lambda v: jnp.sum(layers.max_pool(v)))(jnp.asarray(x)))
    blocks = x.reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(4, 4)
    expected = (blocks == blocks.max(axis=1, keepdims=True)).astype(np.float32)
    np.testing.assert_array_equal(g.reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(4, 4), expected)


def test_same_padding_matches_output_size():
    for size in range(5, 12):
        for k, s in [(1, 1), (3, 1), (3, 2), (7, 2), (1, 2)]:
            lo, hi = layers.same_padding(size, k, s)
            assert (size + lo + hi - k) // s + 1 == -(-size // s)
            assert hi - lo in (0, 1)


@pytest.mark.parametrize(
    "shape,window,stride",
    [((2, 9, 8, 3), 3, 2), ((1, 8, 8, 2), 3, 1), ((2, 7, 9, 2), 2, 3), ((1, 7, 9, 2), 2, 2), ((1, 13, 12, 1), 12, 1)],
)
def test_max_pool_gradient_matches_reduce_window_with_ties(shape, window, stride):
    rng = np.random.default_rng(window + stride)
    # rounded, ReLU-like values: many ties inside windows and zero plateaus
    x = jnp.asarray(np.maximum(np.round(rng.normal(size=shape), 1), 0.0), jnp.float32)

    def reference(v):
        pads = ((0, 0), layers.same_padding(shape[1], window, stride),
                layers.same_padding(shape[2], window, stride), (0, 0))
        return lax.reduce_window(v, -jnp.inf, lax.max, (1, window, window, 1), (1, stride, stride, 1), pads)

    out = reference(x)
    dy = jnp.asarray(rng.normal(size=out.shape), jnp.float32)
    got = jax.jit(lambda v: jax.vjp(lambda u: layers.max_pool(u, window, stride), v)[1](dy)[0])(x)
    ref = jax.jit(lambda v: jax.vjp(reference, v)[1](dy)[0])(x)
    np.testing.assert_array_equal(layers.max_pool(x, window, stride), out)
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-6)


def _plain_batch_norm(x, scale, bias, eps=1e-5):
    """Training-mode BatchNorm written with jnp reductions, differentiated by jax.grad."""
    mean = jnp.mean(x, axis=(0, 1, 2))
    var = jnp.mean(x * x, axis=(0, 1, 2)) - mean * mean
    return (x - mean) * lax.rsqrt(var + eps) * scale + bias


def test_batch_norm_train_matches_autodiff_of_plain_formula():
    rng = np.random.default_rng(4)
    x = jnp.asarray(rng.normal(1.5, 2.0, (3, 6, 5, 4)), jnp.float32)
    scale = jnp.asarray(rng.uniform(0.5, 1.5, 4), jnp.float32)
    bias = jnp.asarray(rng.normal(size=4), jnp.float32)
    dy = jnp.asarray(rng.normal(size=x.shape), jnp.float32)
    y, mean, var = layers.batch_norm_train(x, scale, bias, 1e-5)
    np.testing.assert_allclose(y, _plain_batch_norm(x, scale, bias), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(mean, np.asarray(x).mean(axis=(0, 1, 2)), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(var, np.asarray(x).var(axis=(0, 1, 2)), rtol=1e-4, atol=1e-5)

    def fast(x, s, b):  # a ReLU after it and a loss that also uses the batch statistics
        y, m, v = layers.batch_norm_train(x, s, b, 1e-5)
        return jnp.sum(jax.nn.relu(y) * dy) + jnp.sum(m * 0.3) + jnp.sum(v * 0.7)

    def plain(x, s, b):
        m = jnp.mean(x, axis=(0, 1, 2))
        v = jnp.mean(x * x, axis=(0, 1, 2)) - m * m
        return jnp.sum(jax.nn.relu(_plain_batch_norm(x, s, b)) * dy) + jnp.sum(m * 0.3) + jnp.sum(v * 0.7)

    got = jax.jit(jax.grad(fast, argnums=(0, 1, 2)))(x, scale, bias)
    ref = jax.jit(jax.grad(plain, argnums=(0, 1, 2)))(x, scale, bias)
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-4)


def test_batch_norm_module_matches_flax_batch_norm_in_train_and_eval():
    rng = np.random.default_rng(6)
    x = jnp.asarray(rng.normal(2.0, 3.0, (2, 5, 5, 3)), jnp.float32)
    ours = layers.batch_norm(3, nnx.Rngs(0))
    flax_bn = nnx.BatchNorm(3, momentum=layers.BN_MOMENTUM, epsilon=1e-5, rngs=nnx.Rngs(0))
    for bn in (ours, flax_bn):
        bn.scale[...] = jnp.asarray([0.5, 1.0, 2.0])
        bn.bias[...] = jnp.asarray([0.1, -0.2, 0.3])

    def loss(bn, x):
        return jnp.sum(jnp.sin(bn(x)))

    g_ours = nnx.grad(loss, argnums=(0, 1))(ours, x)
    g_flax = nnx.grad(loss, argnums=(0, 1))(flax_bn, x)
    np.testing.assert_allclose(g_ours[1], g_flax[1], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(g_ours[0].scale[...], g_flax[0].scale[...], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(g_ours[0].bias[...], g_flax[0].bias[...], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.mean[...], flax_bn.mean[...], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ours.var[...], flax_bn.var[...], rtol=1e-5, atol=1e-6)
    ours.eval()
    flax_bn.eval()
    np.testing.assert_allclose(ours(x), flax_bn(x), rtol=1e-5, atol=1e-5)
