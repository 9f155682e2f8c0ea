"""U-Net's low-resolution decoder convolutions against convolving the up-sampled tensor."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax import lax

from mia_core.engine import layers
from mia_plugins.architectures import unet_net


def _reference(x, w, stride, groups):
    """lax convolution with explicit SAME padding computed the TensorFlow way."""
    return lax.conv_general_dilated(
        x, w, (stride, stride), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"),
        feature_group_count=groups,
    )


def test_upsample_nearest_repeats_pixels():
    x = np.random.default_rng(3).normal(size=(2, 3, 4, 5)).astype(np.float32)
    expected = x.repeat(2, axis=1).repeat(2, axis=2)
    np.testing.assert_array_equal(layers.upsample_nearest(jnp.asarray(x), 2), expected)


@pytest.mark.parametrize("shape,cout", [((2, 3, 5, 4), 6), ((1, 1, 1, 2), 3), ((1, 4, 4, 8), 1)])
def test_upsample_conv3x3_equals_convolving_the_upsampled_image(shape, cout):
    rng = np.random.default_rng(sum(shape) + cout)
    x = rng.normal(size=shape).astype(np.float32)
    w = rng.normal(size=(3, 3, shape[3], cout)).astype(np.float32)
    dy = rng.normal(size=(shape[0], 2 * shape[1], 2 * shape[2], cout)).astype(np.float32)

    def reference(x, w):  # numpy's repeat for the up-sampling, then a plain lax convolution
        return _reference(jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2), w, 1, 1)

    got, got_vjp = jax.vjp(unet_net.upsample_conv3x3, jnp.asarray(x), jnp.asarray(w))
    want, want_vjp = jax.vjp(reference, jnp.asarray(x), jnp.asarray(w))
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
    for g, r in zip(got_vjp(jnp.asarray(dy)), want_vjp(jnp.asarray(dy))):
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-3)


def test_upsample_conv3x3_rejects_other_kernels():
    with pytest.raises(ValueError, match="3x3"):
        unet_net.upsample_conv3x3(jnp.zeros((1, 2, 2, 1)), jnp.zeros((1, 1, 1, 1)))


@pytest.mark.parametrize("skip_channels,bias", [(3, False), (0, True)])
def test_upsample_concat_conv_both_ways_equal_conv_of_concatenation(monkeypatch, skip_channels, bias):
    rng = np.random.default_rng(skip_channels)
    conv = layers.Conv2d(4 + skip_channels, 5, 3, use_bias=bias, rngs=nnx.Rngs(0))
    if bias:
        conv.bias[...] = jnp.asarray(rng.normal(size=5), jnp.float32)
    x = jnp.asarray(rng.normal(size=(2, 4, 3, 4)), jnp.float32)
    skip = jnp.asarray(rng.normal(size=(2, 8, 6, skip_channels)), jnp.float32) if skip_channels else None
    up = jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)
    want = conv(up if skip is None else jnp.concatenate([up, skip], axis=-1))

    def loss(module, x):
        return jnp.sum(jnp.sin(unet_net.upsample_concat_conv(module, x, skip)))

    results = {}
    for way in ("phase", "upsample"):
        monkeypatch.setattr(unet_net, "UPSAMPLE_CONV", way)
        np.testing.assert_allclose(unet_net.upsample_concat_conv(conv, x, skip), want, rtol=1e-5, atol=1e-4)
        results[way] = nnx.grad(loss, argnums=(0, 1))(conv, x)
    (dconv_p, dx_p), (dconv_u, dx_u) = results["phase"], results["upsample"]
    np.testing.assert_allclose(dx_p, dx_u, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(dconv_p.kernel[...], dconv_u.kernel[...], rtol=1e-4, atol=1e-3)


def test_upsample_concat_conv_rejects_strided_convolution():
    conv = layers.Conv2d(2, 2, 3, stride=2, rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="stride-1"):
        unet_net.upsample_concat_conv(conv, jnp.zeros((1, 2, 2, 2)), None)
