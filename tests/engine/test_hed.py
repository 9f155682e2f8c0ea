"""HED in Flax: the h5 loader and the network, against an independent numpy/OpenCV reference."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from scipy import ndimage as ndi

from mia_core.engine import hed
from weights_helpers import TINY_WIDTHS, tiny_hed_arrays, write_h5


def _conv_ref(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """SAME cross-correlation (zero padding) of (H, W, Cin) with an HWIO kernel, by scipy."""
    out = np.zeros(x.shape[:2] + (kernel.shape[3],), np.float64)
    for o in range(kernel.shape[3]):
        for i in range(kernel.shape[2]):
            out[:, :, o] += ndi.correlate(x[:, :, i].astype(np.float64), kernel[:, :, i, o], mode="constant", cval=0.0)
    return out + bias


def _pool_ref(x: np.ndarray) -> np.ndarray:
    """2x2 max-pooling, an odd last row/column pooled on its own (TensorFlow SAME)."""
    h, w = x.shape[:2]
    padded = np.full((h + h % 2, w + w % 2, x.shape[2]), -np.inf)
    padded[:h, :w] = x
    return padded.reshape(padded.shape[0] // 2, 2, padded.shape[1] // 2, 2, -1).max(axis=(1, 3))


def _hed_ref(arrays: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """The whole HED forward pass written independently (scipy convolutions, cv2 bilinear resize)."""
    h, w = x.shape[:2]
    sides = []
    for b, depth in enumerate(hed.VGG16_DEPTHS, start=1):
        if b > 1:
            x = _pool_ref(x)
        for j in range(depth):
            name = "conv2d" if j == 0 else f"conv2d_{j}"
            x = np.maximum(_conv_ref(x, arrays[f"block{b}/layers/{name}/vars/0"], arrays[f"block{b}/layers/{name}/vars/1"]), 0)
        s = (x @ arrays[f"dsn{b}/vars/0"][0, 0] + arrays[f"dsn{b}/vars/1"])[:, :, 0]
        sides.append(cv2.resize(s.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) if b > 1 else s)
    fused = np.stack(sides, -1) @ arrays["fuse/vars/0"][0, 0, :, 0] + arrays["fuse/vars/1"][0]
    return 1 / (1 + np.exp(-fused))


def test_h5_loader_and_network_match_an_independent_reference(tmp_path):
    arrays = tiny_hed_arrays(seed=3)
    arrays["fuse/vars/0"] *= 0.1  # keeps the fused sigmoid in its sensitive range
    path = write_h5(tmp_path / "tiny.weights.h5", arrays)
    read = hed.read_h5(path)
    assert set(read) == set(arrays)
    assert hed.widths_of(read) == TINY_WIDTHS
    model = hed.hed_from_arrays(read)
    x = np.random.default_rng(0).uniform(-2, 2, (37, 45, 3)).astype(np.float32)  # odd sizes: SAME pooling
    got = hed.edge_map(model, x)
    want = _hed_ref(arrays, x)
    assert got.shape == (37, 45)
    assert np.abs(got - want).max() < 2e-4
    # the reference is neither flat nor saturated, so the comparison means something
    assert want.std() > 1e-2 and 0.05 < np.median(want) < 0.95


def test_loader_refuses_missing_extra_and_misshapen_keys_naming_them(tmp_path):
    arrays = tiny_hed_arrays()
    del arrays["dsn3/vars/1"]
    arrays["block9/layers/conv2d/vars/0"] = np.zeros((1,), np.float32)
    arrays["block2/layers/conv2d_1/vars/0"] = np.zeros((3, 3, 3, 5), np.float32)
    with pytest.raises(hed.HEDWeightsError) as info:
        hed.hed_from_arrays(arrays, TINY_WIDTHS)
    text = str(info.value)
    assert "missing keys dsn3/vars/1" in text
    assert "extra keys block9/layers/conv2d/vars/0" in text
    assert "block2/layers/conv2d_1/vars/0: expected (3, 3, 3, 3), found (3, 3, 3, 5)" in text


def test_a_file_that_is_not_hdf5_is_refused_by_name(tmp_path):
    bad = tmp_path / "x.weights.h5"
    bad.write_bytes(b"not hdf5")
    with pytest.raises(hed.HEDWeightsError, match="x.weights.h5"):
        hed.read_h5(bad)


def test_input_is_bgr_minus_the_mean_with_grey_repeated():
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[..., 0] = 200  # red
    x = hed.hed_input(rgb)
    assert np.allclose(x[0, 0], [0 - hed.HED_MEAN[0], 0 - hed.HED_MEAN[1], 200 - hed.HED_MEAN[2]])
    grey = np.full((2, 2), 50, np.uint8)
    assert np.allclose(hed.hed_input(grey)[0, 0], 50 - np.asarray(hed.HED_MEAN))


def test_16_bit_images_go_through_the_display_levels_not_a_division_by_256():
    twelve_bit = np.array([[0, 4095], [2048, 1000]], np.uint16)
    shown = hed.to_8bit(twelve_bit, levels=(0, 4095))
    assert shown.max() == pytest.approx(255.0) and shown[1, 0] == pytest.approx(2048 * 255 / 4095)
    # levels narrower than the range clip, as the display does
    assert hed.to_8bit(twelve_bit, levels=(1000, 2048))[0, 1] == 255.0
    # without levels the image's own range is used; a lone bright pixel does not vanish
    single = np.zeros((4, 4), np.uint16)
    single[1, 1] = 60000
    assert hed.to_8bit(single)[1, 1] == 255.0 and hed.to_8bit(single).sum() == 255.0
