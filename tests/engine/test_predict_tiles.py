"""Tiled prediction: seamless blending, any image size, flips, field of view, channel checks."""

import jax
import numpy as np
import pytest

from engine_helpers import tiny_net
from mia_core.engine.checkpoint import ModelInfo
from mia_core.engine.predict import (
    PredictionError,
    TileSettings,
    axis_window,
    predict_frame,
    ramp,
    tile_probabilities,
)


@pytest.fixture(scope="module")
def model():
    m = tiny_net(1, 3, seed=2)
    m.eval()
    return m


def _whole(model, image):
    """Reference: the fully-convolutional model applied to the whole image at once."""
    return np.asarray(jax.nn.softmax(model(image[None]), axis=-1))[0]


def _info(channels=1):
    return ModelInfo("unet", "tiny", 3, channels, ["bg", "a", "b"], "per-image", 64)


def test_ramps_of_neighbouring_tiles_sum_to_one():
    for overlap in (1, 7, 64):
        r = ramp(overlap)
        np.testing.assert_allclose(r + r[::-1], 1.0, atol=1e-12)
        assert np.all(r > 0) and np.all(np.diff(r) > 0)
    w = axis_window(0, 100, 300, 20)
    assert np.all(w[:80] == 1) and np.all(w[80:] < 1)  # flat at the image border, ramp inside
    w = axis_window(200, 100, 300, 20)
    assert np.all(w[20:] == 1) and np.all(w[:20] < 1)


def test_large_image_tiled_output_has_no_seams(model):
    rng = np.random.default_rng(0)
    image = rng.normal(size=(3000, 2000, 1)).astype(np.float32)
    image[1000:1600, 300:900] += 2.0  # some structure across tile borders
    tiles = TileSettings(512, 64)
    tiled = tile_probabilities(model, image, tiles)
    whole = _whole(model, image)
    assert tiled.shape == (3000, 2000, 3)
    np.testing.assert_allclose(tiled.sum(-1), 1.0, atol=1e-5)
    # Tile starts every 448 px (last tile flush with the edge): away from the 2-px band around
    # tile edges that the 5x5 receptive field can see, tiled and whole agree to float precision.
    interior = np.ones((3000, 2000), bool)
    for axis, length in ((0, 3000), (1, 2000)):
        starts = list(range(0, length - 512, 448)) + [length - 512]
        for s in starts:
            for edge in (s, s + 512):
                band = slice(max(edge - 3, 0), edge + 3)
                if axis == 0:
                    interior[band, :] = False
                else:
                    interior[:, band] = False
    np.testing.assert_allclose(tiled[interior], whole[interior], atol=1e-5)
    # At the tile edges the blend window all but hides the tile's wrong border pixels.
    blended_error = np.abs(tiled - whole).max()
    assert blended_error < 0.01
    # Without overlap the tile borders show (a seam the blending removes).
    hard = tile_probabilities(model, image[:1200, :1200], TileSettings(512, 0))
    assert np.abs(hard - whole[:1200, :1200]).max() > 5 * np.abs(tiled[:1200, :1200] - whole[:1200, :1200]).max()


def test_odd_sized_and_small_images(model):
    rng = np.random.default_rng(1)
    image = rng.normal(size=(50, 70, 1)).astype(np.float32)
    probs = tile_probabilities(model, image, TileSettings(512, 64))
    assert probs.shape == (50, 70, 3)
    padded = np.pad(image, ((0, 14), (0, 26), (0, 0)), mode="reflect")  # to 64 x 96
    np.testing.assert_allclose(probs, _whole(model, padded)[:50, :70], atol=1e-5)


def test_flip_averaging_equals_manual_flips(model):
    rng = np.random.default_rng(2)
    image = rng.normal(size=(64, 96, 1)).astype(np.float32)
    got = tile_probabilities(model, image, TileSettings(128, 0), tta=True)
    want = np.mean(
        [np.flip(_whole(model, np.ascontiguousarray(np.flip(image, axes))), axes) for axes in [(), (0,), (1,), (0, 1)]],
        axis=0,
    )
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert not np.allclose(got, _whole(model, image), atol=1e-3)


def test_field_of_view_limits_the_prediction(model):
    rng = np.random.default_rng(3)
    frame = rng.integers(0, 255, (200, 300)).astype(np.uint8)
    full = predict_frame(model, frame, _info())
    assert full.min() >= 0
    part = predict_frame(model, frame, _info(), fov=(40, 30, 100, 50))
    inside = np.zeros_like(part, bool)
    inside[30:80, 40:140] = True
    assert np.all(part[~inside] == -1)
    np.testing.assert_array_equal(part[inside], full[inside])
    clipped = predict_frame(model, frame, _info(), fov=(250, 150, 500, 500))
    assert np.all(clipped[150:, 250:] >= 0) and np.count_nonzero(clipped >= 0) == 50 * 50
    with pytest.raises(PredictionError, match="outside"):
        predict_frame(model, frame, _info(), fov=(400, 0, 10, 10))


def test_channel_mismatch_is_a_clear_error(model):
    rgb = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(PredictionError, match=r"cells\.png has 3 channel\(s\) but the model was trained on 1-channel"):
        predict_frame(model, rgb, _info(1), source="cells.png")
    with pytest.raises(PredictionError, match="1 channel"):
        predict_frame(model, np.zeros((64, 64), np.uint8), _info(3), source="grey.png")


def test_bad_tile_settings():
    with pytest.raises(PredictionError, match="overlap"):
        TileSettings(64, 40).checked()
    assert TileSettings(100, 10).checked().tile == 128


def test_large_frame_is_predicted_band_by_band_with_progress_per_tile(model):
    import tracemalloc

    rng = np.random.default_rng(5)
    frame = (rng.random((1500, 1400)) * 255).astype(np.uint8)
    seen = []
    predict_frame(model, frame[:300, :300], _info(), TileSettings(256, 32))  # compile outside the trace
    tracemalloc.start()
    try:
        got = predict_frame(model, frame, _info(), TileSettings(256, 32), progress=lambda d, n: seen.append((d, n)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Whole-image float copies (normalised 8 MB, probabilities 25 MB twice, weights 8 MB) took
    # over 65 MB; bands of tiles hold the int16 output (4 MB) and a few bands of 256 rows.
    assert peak < 40 * 2**20
    total = 7 * 7  # starts every 224 px, the last flush with the edge
    assert seen[-1] == (total, total) and [d for d, _ in seen] == sorted({d for d, _ in seen})
    from mia_core.engine.dataset import normalise

    expect = np.argmax(tile_probabilities(model, normalise(frame), TileSettings(256, 32)), axis=-1)
    np.testing.assert_array_equal(got, expect)
