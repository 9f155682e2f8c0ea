"""Speed of the results: export of a labelled folder (all columns) and tracking of a stack.

Full size (the target): 50 images of 2048x2048 with 500 contours each, and 100 frames with 200
objects; then the app's skeleton overlay (its worker's part) for one such image's contours.
``--images/--size/--contours/--frames/--objects`` shrink it for a shared machine; the figures
printed are per image, per frame and per contour, so runs of different sizes compare.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np


def _discs(rng, n: int, size: int, radius: int) -> np.ndarray:
    """A class map with about ``n`` non-touching discs."""
    cm = np.full((size, size), -1, np.int16)
    grid = int(np.ceil(np.sqrt(n)))
    step = size // grid
    k = 0
    for gy in range(grid):
        for gx in range(grid):
            if k >= n:
                break
            cy = gy * step + step // 2 + int(rng.integers(-2, 3))
            cx = gx * step + step // 2 + int(rng.integers(-2, 3))
            cv2.circle(cm, (cx, cy), min(radius, step // 2 - 2), int(1 + k % 2), -1)
            k += 1
    return cm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", type=int, default=50)
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--contours", type=int, default=500)
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--objects", type=int, default=200)
    a = ap.parse_args()

    from mia_core.label_store import label_path, save_labels
    from mia_core.plugins import load_plugins
    from mia_core.raster import labels_from_class_map
    from mia_core.results import ExportSettings, export_folder

    registry = load_plugins(disabled=set())
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "imgs"
        folder.mkdir()
        for i in range(a.images):
            img = rng.integers(0, 65535, (a.size, a.size), dtype=np.uint16)
            cv2.imwrite(str(folder / f"img{i:03d}.png"), img)
            save_labels(label_path(folder / f"img{i:03d}.png"), labels_from_class_map(_discs(rng, a.contours, a.size, 20)))
        t0 = time.perf_counter()
        rows = export_folder(registry, folder, Path(tmp) / "r.csv", ExportSettings())
        dt = time.perf_counter() - t0
        print(f"export: {a.images} images {a.size}x{a.size}, {rows} rows, all columns: "
              f"{dt:.1f} s, {dt / a.images:.2f} s/image, {1000 * dt / max(rows, 1):.2f} ms/contour")

    tracker = registry.get("postprocessors", "tracking")
    frames = []
    size = 1024
    pos = rng.uniform(20, size - 20, (a.objects, 2))
    for _ in range(a.frames):
        pos = np.clip(pos + rng.normal(0, 2, pos.shape), 10, size - 10)
        cm = np.full((size, size), -1, np.int16)
        for x, y in pos:
            cv2.circle(cm, (int(x), int(y)), 6, 1, -1)
        frames.append(labels_from_class_map(cm))
    t0 = time.perf_counter()
    result = tracker.apply_sequence(frames)
    dt = time.perf_counter() - t0
    n = sum(len(f) for f in result.frames)
    print(f"tracking: {a.frames} frames, {n} contours ({n / a.frames:.0f}/frame): {dt:.1f} s, "
          f"{1000 * dt / a.frames:.1f} ms/frame")

    # The skeleton overlay of the app: what its worker computes for the contours in view.
    overlay = registry.get("postprocessors", "skeleton")
    labels = labels_from_class_map(_discs(rng, a.contours, a.size, 20))
    t0 = time.perf_counter()
    pixels = overlay.overlay(labels, skeleton_kernel=11)
    dt = time.perf_counter() - t0
    print(f"skeleton overlay: {len(labels)} contours of a {a.size}x{a.size} image: {dt:.2f} s, "
          f"{1000 * dt / max(len(labels), 1):.2f} ms/contour, {sum(len(p) for p in pixels)} pixels drawn")


if __name__ == "__main__":
    main()
