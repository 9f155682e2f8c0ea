"""Histogram and auto levels from a bounded sample: right on small frames, bounded on big ones."""

from __future__ import annotations

import tracemalloc

import numpy as np
from skimage import exposure

from mia_core.display_levels import SAMPLE_VALUES, histogram, level_sample, percentile_levels


def test_small_frames_are_read_whole_and_8_bit_gets_one_bin_per_value():
    rng = np.random.default_rng(0)
    frame = rng.integers(10, 200, (60, 70)).astype(np.uint8)
    sample = level_sample(frame)
    assert sample.size == frame.size
    centres, counts = histogram(sample)
    ref_counts, ref_centres = exposure.histogram(frame, source_range="image")  # scikit-image's
    np.testing.assert_array_equal(centres, ref_centres)
    np.testing.assert_array_equal(counts, ref_counts)


def test_float_frames_leave_nan_and_inf_out():
    frame = np.linspace(-2.0, 3.0, 400, dtype=np.float32).reshape(20, 20)
    frame[0, :3] = [np.nan, np.inf, -np.inf]
    sample = level_sample(frame)
    assert np.isfinite(sample).all() and sample.size == 397
    centres, counts = histogram(sample)
    assert counts.sum() == 397 and len(centres) == 256
    lo, hi = percentile_levels(sample, (0, 100))
    assert (lo, hi) == (float(sample.min()), float(sample.max()))
    assert percentile_levels(np.full(10, 7.0)) == (7.0, 8.0)  # a constant frame still has a window
    assert percentile_levels(np.zeros(0)) == (0.0, 1.0)


def test_a_big_16_bit_frame_is_sampled_without_a_float_copy_and_gives_close_percentiles():
    rng = np.random.default_rng(1)
    frame = rng.gamma(2.0, 3000.0, (4000, 4000)).clip(0, 65535).astype(np.uint16)  # 32 MB
    tracemalloc.start()
    sample = level_sample(frame)
    histogram(sample)
    lo, hi = percentile_levels(sample)
    _now, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert sample.size <= SAMPLE_VALUES
    assert peak < 8 * 1024 * 1024  # a float64 copy of the frame would take 128 MB
    full_lo, full_hi = np.percentile(frame, (0.2, 99.8))
    assert abs(lo - full_lo) < 0.01 * full_hi and abs(hi - full_hi) < 0.01 * full_hi
