"""The shared layer kit's newer pieces against independent references (lax, OpenCV, scipy, numpy)."""

from __future__ import annotations

import cv2
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax import lax
from scipy import ndimage

from mia_core.engine import layers
from mia_core.engine.geometry import dilated_strides


def _lax_conv(x, w, stride, groups, dilation, pads):
    return lax.conv_general_dilated(
        x, w, (stride, stride), pads, rhs_dilation=(dilation, dilation),
        dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=groups,
    )


@pytest.mark.parametrize("stride,groups,dilation,padding", [
    (1, 1, 2, None), (1, 4, 3, None), (2, 1, 1, 1), (2, 4, 1, 1), (1, 1, 2, 2),
])
def test_conv2d_dilation_groups_and_explicit_padding_match_lax(stride, groups, dilation, padding):
    rng = np.random.default_rng(stride + groups + dilation)
    x = jnp.asarray(rng.normal(size=(2, 10, 8, 4)), jnp.float32)
    w = jnp.asarray(rng.normal(size=(3, 3, 4 // groups, 4)), jnp.float32)
    # PyTorch's padding=p is p pixels each side; SAME with dilation d pads d each side at stride 1
    pads = [(padding, padding)] * 2 if padding is not None else [(dilation, dilation)] * 2
    want, want_vjp = jax.vjp(lambda a, b: _lax_conv(a, b, stride, groups, dilation, pads), x, w)
    got, got_vjp = jax.vjp(lambda a, b: layers.conv2d(a, b, stride, groups, dilation, padding), x, w)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    dy = jnp.asarray(rng.normal(size=want.shape), jnp.float32)
    for g, r in zip(got_vjp(dy), want_vjp(dy)):
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-4)


def test_conv_transpose_is_the_adjoint_of_the_strided_convolution():
    # PyTorch's ConvTranspose2d(k=4, stride=2, padding=1) is the transpose of Conv2d(k=4, s=2, p=1)
    rng = np.random.default_rng(0)
    deconv = layers.ConvTranspose2d(3, 5, 4, stride=2, padding=1, use_bias=False, rngs=nnx.Rngs(0))
    x = jnp.asarray(rng.normal(size=(2, 6, 7, 3)), jnp.float32)
    y = deconv(x)
    assert y.shape == (2, 12, 14, 5)
    # kernel (k, k, in=3, out=5), PyTorch's (in, out, k, k): the forward conv's weight maps 5 -> 3
    kernel = deconv.kernel[...].transpose(0, 1, 3, 2)

    def forward(z):
        return _lax_conv(z, kernel, 2, 1, 1, [(1, 1), (1, 1)])

    (adjoint,) = jax.vjp(forward, jnp.zeros((2, 12, 14, 5)))[1](x)
    np.testing.assert_allclose(y, adjoint, rtol=1e-5, atol=1e-5)
    assert layers.ConvTranspose2d(3, 5, 3, 2, 1, output_padding=1, rngs=nnx.Rngs(0))(x).shape == (2, 12, 14, 5)


@pytest.mark.parametrize("kernel,stride,padding,output_padding", [
    (4, 2, 1, 0), (3, 2, 1, 1), (2, 2, 0, 0), (5, 3, 1, 0), (5, 3, 1, 1), (3, 2, 0, 1), (3, 2, 1, 0),
])
def test_conv_transpose_by_phases_is_the_adjoint_in_values_and_gradients(kernel, stride, padding, output_padding):
    # every geometry (phased where the output splits evenly, dilated otherwise) against the
    # transpose of the strided convolution, as PyTorch defines ConvTranspose2d
    rng = np.random.default_rng(kernel + stride + padding)
    deconv = layers.ConvTranspose2d(3, 4, kernel, stride, padding, output_padding, use_bias=False,
                                    rngs=nnx.Rngs(0))
    x = jnp.asarray(rng.normal(size=(2, 5, 6, 3)), jnp.float32)
    w = deconv.kernel[...]
    out = [(n - 1) * stride - 2 * padding + kernel + output_padding for n in (5, 6)]

    def reference(x, w):
        def forward(z):
            return _lax_conv(z, w.transpose(0, 1, 3, 2), stride, 1, 1, [(padding, padding)] * 2)

        return jax.vjp(forward, jnp.zeros((2, *out, 4)))[1](x)[0]

    graphdef, state = nnx.split(deconv)

    def ours(x, w):  # the layer with its one parameter (the kernel) set to w
        return nnx.merge(graphdef, jax.tree.map(lambda _: w, state))(x)

    want, want_vjp = jax.vjp(reference, x, w)
    got, got_vjp = jax.vjp(ours, x, w)
    assert got.shape == (2, *out, 4)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    dy = jnp.asarray(rng.normal(size=want.shape), jnp.float32)
    for g, r in zip(got_vjp(dy), want_vjp(dy)):
        np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("size", [(12, 10), (5, 3)])
def test_bilinear_resize_half_pixel_matches_opencv(size):
    x = np.random.default_rng(1).normal(size=(6, 5, 3)).astype(np.float32)
    want = cv2.resize(x, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
    got = layers.resize_bilinear(jnp.asarray(x[None]), size)[0]
    if size[0] > 6:  # up-sampling: OpenCV and PyTorch agree exactly
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    else:  # down-sampling: OpenCV's INTER_LINEAR also interpolates (no area average) as PyTorch
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_bilinear_resize_align_corners_matches_scipy_map_coordinates():
    x = np.random.default_rng(2).normal(size=(4, 7, 2)).astype(np.float32)
    out_h, out_w = 13, 9
    rows = np.arange(out_h) * (4 - 1) / (out_h - 1)
    cols = np.arange(out_w) * (7 - 1) / (out_w - 1)
    rr, cc = np.meshgrid(rows, cols, indexing="ij")
    want = np.stack([ndimage.map_coordinates(x[..., c], [rr, cc], order=1) for c in range(2)], -1)
    got = layers.resize_bilinear(jnp.asarray(x[None]), (out_h, out_w), align_corners=True)[0]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("bins", [1, 2, 3, 6])
def test_adaptive_avg_pool_bins_follow_pytorchs_rule(bins):
    x = np.random.default_rng(bins).normal(size=(2, 10, 7, 3)).astype(np.float32)
    want = np.zeros((2, bins, bins, 3), np.float32)
    for i in range(bins):
        for j in range(bins):
            r0, r1 = int(np.floor(i * 10 / bins)), int(np.ceil((i + 1) * 10 / bins))
            c0, c1 = int(np.floor(j * 7 / bins)), int(np.ceil((j + 1) * 7 / bins))
            want[:, i, j] = x[:, r0:r1, c0:c1].mean(axis=(1, 2))
    np.testing.assert_allclose(layers.adaptive_avg_pool(jnp.asarray(x), bins), want, rtol=1e-5, atol=1e-5)


def test_avg_pool_with_padding_counts_the_padding_or_not():
    x = np.random.default_rng(3).normal(size=(1, 6, 6, 2)).astype(np.float32)
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    ones = np.pad(np.ones_like(x), ((0, 0), (1, 1), (1, 1), (0, 0)))
    sums = np.stack([[padded[:, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3].sum(axis=(1, 2)) for j in range(3)]
                     for i in range(3)]).transpose(2, 0, 1, 3)
    counts = np.stack([[ones[:, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3].sum(axis=(1, 2)) for j in range(3)]
                       for i in range(3)]).transpose(2, 0, 1, 3)
    np.testing.assert_allclose(layers.avg_pool(jnp.asarray(x), 3, 2, 1), sums / 9, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layers.avg_pool(jnp.asarray(x), 3, 2, 1, count_include_pad=False),
                               sums / counts, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layers.avg_pool(jnp.asarray(x), 2), x.reshape(1, 3, 2, 3, 2, 2).mean((2, 4)),
                               rtol=1e-6)


def test_max_pool_with_pytorch_padding_matches_reduce_window_and_its_gradient():
    rng = np.random.default_rng(4)
    x = jnp.asarray(np.maximum(np.round(rng.normal(size=(2, 8, 9, 2)), 1), 0.0), jnp.float32)

    def reference(v):
        return lax.reduce_window(v, -jnp.inf, lax.max, (1, 3, 3, 1), (1, 2, 2, 1), ((0, 0), (1, 1), (1, 1), (0, 0)))

    want, want_vjp = jax.vjp(reference, x)
    got, got_vjp = jax.vjp(lambda v: layers.max_pool(v, 3, 2, padding=1), x)
    assert got.shape == (2, 4, 5, 2)
    np.testing.assert_array_equal(got, want)
    dy = jnp.asarray(rng.normal(size=want.shape), jnp.float32)
    np.testing.assert_allclose(got_vjp(dy)[0], want_vjp(dy)[0], rtol=1e-6, atol=1e-6)


def test_activations_by_name_and_unknown_names_list_the_valid_ones():
    x = jnp.linspace(-8.0, 8.0, 33)
    np.testing.assert_allclose(layers.activation_fn("relu6")(x), np.clip(np.asarray(x), 0, 6))
    np.testing.assert_allclose(layers.activation_fn("swish")(x), np.asarray(x) / (1 + np.exp(-np.asarray(x))),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layers.activation_fn("hard_swish")(x),
                               np.asarray(x) * np.clip(np.asarray(x) + 3, 0, 6) / 6, rtol=1e-6, atol=1e-6)
    assert layers.activation_fn(None)(x) is x
    with pytest.raises(ValueError, match="relu6"):
        layers.activation_fn("mish2")
    with pytest.raises(ValueError, match="unknown activation 'rleu'"):
        layers.ConvBNAct(2, 2, activation="rleu", rngs=nnx.Rngs(0))


def test_squeeze_excitation_scales_each_channel_by_its_gate():
    se = layers.SqueezeExcitation(4, 2, rngs=nnx.Rngs(0))
    x = jnp.asarray(np.random.default_rng(5).normal(size=(2, 5, 5, 4)), jnp.float32)
    pooled = np.asarray(x).mean(axis=(1, 2))
    w1, b1 = np.asarray(se.fc1.kernel[...])[0, 0], np.asarray(se.fc1.bias[...])
    w2, b2 = np.asarray(se.fc2.kernel[...])[0, 0], np.asarray(se.fc2.bias[...])
    gate = 1 / (1 + np.exp(-(np.maximum(pooled @ w1 + b1, 0) @ w2 + b2)))
    np.testing.assert_allclose(se(x), np.asarray(x) * gate[:, None, None, :], rtol=1e-5, atol=1e-6)


def test_dilation_plan_follows_smp_make_dilated():
    # ResNet: stem, max-pool, layer1..4
    assert dilated_strides((2, 2, 1, 2, 2, 2), 32) == [(2, 1), (2, 1), (1, 1), (2, 1), (2, 1), (2, 1)]
    assert dilated_strides((2, 2, 1, 2, 2, 2), 16)[-1] == (1, 2)
    assert dilated_strides((2, 2, 1, 2, 2, 2), 8)[-2:] == [(1, 2), (1, 4)]
    assert dilated_strides((2, 2, 1, 2, 1), 8) == [(2, 1), (2, 1), (1, 1), (2, 1), (1, 1)]
    with pytest.raises(ValueError, match="output_stride"):
        dilated_strides((2, 2), 4)


def test_batch_norm_epsilon_and_conv_bn_act_padding_are_passed_through():
    from flax import nnx

    bn = layers.batch_norm(4, nnx.Rngs(0), epsilon=1e-3)
    assert bn.epsilon == 1e-3
    x = jnp.asarray(np.random.default_rng(0).normal(size=(1, 8, 8, 2)), jnp.float32)
    unit = layers.ConvBNAct(2, 3, 3, 2, padding=1, activation=None, rngs=nnx.Rngs(0))
    unit.eval()
    ref = lax.conv_general_dilated(x, unit.conv.kernel[...], (2, 2), [(1, 1), (1, 1)],
                                   dimension_numbers=("NHWC", "HWIO", "NHWC"))
    np.testing.assert_allclose(unit(x), unit.bn(ref), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kernel,padding", [((1, 7), (0, 3)), ((3, 1), (1, 0))])
def test_rectangular_kernel_with_per_axis_padding_matches_scipy_correlation(kernel, padding):
    """Inception's 1x7 / 7x1 units: PyTorch's ``kernel_size=(kh, kw), padding=(ph, pw)``."""
    unit = layers.ConvBNAct(1, 1, kernel, padding=padding, epsilon=1e-3, rngs=nnx.Rngs(0))
    assert unit.conv.kernel[...].shape == (*kernel, 1, 1) and unit.bn.epsilon == 1e-3
    x = np.random.default_rng(1).normal(size=(1, 9, 11, 1)).astype(np.float32)
    w = np.asarray(unit.conv.kernel[...])[:, :, 0, 0]
    got = np.asarray(unit.conv(jnp.asarray(x)))[0, :, :, 0]
    # zero padding of (ph, pw) keeps the size; scipy centres the kernel the same way for odd sizes
    want = ndimage.correlate(x[0, :, :, 0], w, mode="constant", cval=0.0)
    assert got.shape == (9, 11)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
