"""Display levels from a bounded sample of a frame: its histogram and percentile (auto) levels.

Works on what the canvas draws (the memory-bounded display copy of a frame) and reads at most
:data:`SAMPLE_VALUES` of its values through a stride, so a huge 16-bit or float frame never gets
a float64 copy of itself. Numpy only: no Qt, no JAX.
"""

from __future__ import annotations

import math

import numpy as np

#: At most this many values of a frame are read for its histogram and auto levels.
SAMPLE_VALUES = 512 * 512
#: Auto levels clip this share of the values at each end (percentiles), like Fiji's saturation.
AUTO_PERCENTILES = (0.2, 99.8)
#: Bins of the histogram of 16-bit and float frames (8-bit and small integer ranges: one per value).
BINS = 256


def level_sample(frame: np.ndarray, limit: int = SAMPLE_VALUES) -> np.ndarray:
    """The frame's finite values, every k-th row and column so that at most ``limit`` are read (1-D)."""
    values = np.asarray(frame)
    if values.ndim < 2 or values.size == 0:
        return values.ravel()
    pixels = values.shape[0] * values.shape[1]
    per_pixel = max(1, values.size // max(1, pixels))
    step = max(1, math.ceil(math.sqrt(pixels * per_pixel / max(1, limit))))
    sample = values[::step, ::step].ravel()
    if sample.dtype.kind == "f":
        sample = sample[np.isfinite(sample)]
    return sample


def histogram(sample: np.ndarray, value_range: tuple[float, float] | None = None,
              bins: int = BINS) -> tuple[np.ndarray, np.ndarray]:
    """Bin centres and counts of a sample; integers with a range of at most ``bins`` values get one bin each."""
    sample = np.asarray(sample)
    if sample.size == 0:
        return np.zeros(0), np.zeros(0)
    lo, hi = value_range if value_range is not None else (float(sample.min()), float(sample.max()))
    if sample.dtype.kind in "uib":
        lo, hi = math.floor(lo), math.ceil(hi)
        if hi - lo + 1 <= bins:
            edges = np.arange(lo, hi + 2, dtype=np.float64) - 0.5  # one bin per whole value
            counts, _ = np.histogram(sample, edges)
            return edges[:-1] + 0.5, counts
    if hi <= lo:
        hi = lo + 1.0
    counts, edges = np.histogram(sample, bins=bins, range=(lo, hi))
    return (edges[:-1] + edges[1:]) / 2, counts


def percentile_levels(sample: np.ndarray, percentiles: tuple[float, float] = AUTO_PERCENTILES) -> tuple[float, float]:
    """Levels that clip ``percentiles`` of the sample at each end; (0, 1) for an empty sample."""
    sample = np.asarray(sample)
    if sample.size == 0:
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.percentile(sample, percentiles))
    if hi <= lo:  # a (nearly) constant frame: a window of one unit around its value
        hi = lo + 1.0
    return lo, hi
