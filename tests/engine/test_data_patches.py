"""Random patches, "prefer labelled parts", padding of small images, validation tiles, batches."""

from pathlib import Path

import numpy as np
import pytest

from mia_core.engine.batches import BatchStream, make_batch
from mia_core.engine.config import AugmentConfig
from mia_core.engine.dataset import IGNORED, LabelledImage, TrainingDataError
from mia_core.engine.patches import PatchSampler, tile_starts, validation_patches


def _sample(h, w, labelled_box=None, seed=0):
    rng = np.random.default_rng(seed)
    image = rng.normal(size=(h, w, 1)).astype(np.float32)
    target = np.full((h, w), IGNORED, np.int16)
    if labelled_box is not None:
        y0, y1, x0, x1 = labelled_box
        target[y0:y1, x0:x1] = 1
    weight = (target >= 0).astype(np.float32)
    # Encode the position in the image so a patch can be located in its source.
    image[..., 0] = np.arange(h * w, dtype=np.float32).reshape(h, w)
    return LabelledImage(Path(f"s{seed}.png"), None, image, target, np.zeros((h, w), np.int32), weight)


def test_patches_are_windows_of_the_source():
    s = _sample(50, 70, (0, 50, 0, 70))
    sampler = PatchSampler([s], 32)
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = sampler.draw(rng)
        first = int(p.image[0, 0, 0])
        y, x = divmod(first, 70)
        np.testing.assert_array_equal(p.image, s.image[y:y + 32, x:x + 32])
        np.testing.assert_array_equal(p.target, s.target[y:y + 32, x:x + 32])


def test_prefer_labelled_parts_raises_labelled_share():
    s = _sample(200, 200, (150, 200, 150, 200))
    plain = PatchSampler([s], 32)
    prefer = PatchSampler([s], 32, prefer_tries=20, min_labelled=100)
    rng_a, rng_b = np.random.default_rng(1), np.random.default_rng(1)
    share_plain = np.mean([np.count_nonzero(plain.draw(rng_a).weight) >= 100 for _ in range(200)])
    share_prefer = np.mean([np.count_nonzero(prefer.draw(rng_b).weight) >= 100 for _ in range(200)])
    assert share_plain < 0.15
    assert share_prefer > 0.5


def test_prefer_labelled_discards_at_most_n(monkeypatch):
    s = _sample(64, 64, None)  # no patch can ever hold a labelled pixel
    sampler = PatchSampler([s], 32, prefer_tries=5, min_labelled=1)
    calls = []
    original = sampler._draw_once
    monkeypatch.setattr(sampler, "_draw_once", lambda rng: calls.append(1) or original(rng))
    sampler.draw(np.random.default_rng(0))
    assert len(calls) == 6  # the first draw plus N = 5 re-draws, then it gives up


def test_small_images_are_padded_with_zero_weight_and_too_large_patch_refused():
    small = _sample(20, 40, (0, 20, 0, 40), seed=1)
    big = _sample(64, 64, (0, 64, 0, 64), seed=2)
    sampler = PatchSampler([small, big], 32)
    padded = sampler.samples[0]
    assert padded.target.shape == (32, 40)
    assert np.all(padded.weight[20:] == 0) and np.all(padded.target[20:] == IGNORED)
    assert np.all(padded.weight[:20] == 1)
    with pytest.raises(TrainingDataError, match="patch size 128 is larger than every training image"):
        PatchSampler([small, big], 128)


def test_tile_starts_cover_everything():
    for length, tile, step in [(100, 32, 32), (100, 32, 20), (32, 32, 16), (10, 32, 32), (65, 64, 48)]:
        starts = tile_starts(length, tile, step)
        covered = np.zeros(max(length, tile), bool)
        for s in starts:
            covered[s:s + tile] = True
        assert covered[:length].all()
        assert all(b - a <= step for a, b in zip(starts, starts[1:]))
        assert starts[-1] + tile == max(length, tile)


def test_validation_patches_are_fixed_labelled_and_limited():
    s = _sample(100, 100, (0, 40, 0, 100))
    patches = validation_patches([s], 32, limit=100)
    # 4x4 grid; rows starting at 0 and 32 touch labelled rows (< 40), the others do not.
    assert len(patches) == 8
    assert all(np.any(p.target >= 0) for p in patches)
    limited = validation_patches([s], 32, limit=3, seed=0)
    again = validation_patches([s], 32, limit=3, seed=0)
    assert len(limited) == 3
    assert all(np.array_equal(a.image, b.image) for a, b in zip(limited, again))


def test_batches_stack_shapes_and_ignore_unlabelled():
    s = _sample(80, 80, (0, 40, 0, 80))
    sampler = PatchSampler([s], 32)
    batch = make_batch(sampler, 5, None, np.random.default_rng(0))
    assert batch.images.shape == (5, 32, 32, 1) and batch.images.dtype == np.float32
    assert batch.targets.shape == (5, 32, 32) and batch.targets.dtype == np.int32
    assert batch.targets.min() >= 0  # ignored pixels become class 0 ...
    positions = batch.images[..., 0].astype(int) // 80
    np.testing.assert_array_equal(batch.weights > 0, positions < 40)  # ... with weight 0


def test_batch_stream_is_reproducible_for_a_seed():
    s = _sample(80, 80, (0, 80, 0, 80))
    sampler = PatchSampler([s], 32)

    def first_three(seed):
        stream = BatchStream(sampler, 2, AugmentConfig(), np.random.default_rng(seed))
        try:
            return [next(stream).images for _ in range(3)]
        finally:
            stream.close()

    a, b, c = first_three(4), first_three(4), first_three(5)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c))


def test_batch_stream_passes_errors_to_the_consumer():
    class Broken:
        def draw(self, rng):
            raise ValueError("damaged sample")

    stream = BatchStream(Broken(), 2, None, np.random.default_rng(0))
    try:
        with pytest.raises(ValueError, match="damaged sample"):
            next(stream)
    finally:
        stream.close()
