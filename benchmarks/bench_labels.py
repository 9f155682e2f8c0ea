"""Label-model speed on a 4096x4096 image with 2,000 contours.

Targets (medians on a 2-core machine): <= 16 ms per pointer event, <= 50 ms save, <= 100 ms load.
Run: python benchmarks/bench_labels.py [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from mia_core.document import LabelDocument
from mia_core.label_store import load_labels, save_labels
from mia_core.labels import LabelSet
from mia_core.raster import labels_from_instance_map

SIZE = 4096
COUNT = 2000


def make_labels(seed: int = 0) -> LabelSet:
    """2,000 ellipse-like nuclei of two classes scattered over the image."""
    rng = np.random.default_rng(seed)
    inst = np.zeros((SIZE, SIZE), dtype=np.int32)
    yy, xx = np.mgrid[-30:31, -30:31]
    placed = 0
    while placed < COUNT:
        cy, cx = rng.integers(40, SIZE - 40, size=2)
        a, b = rng.uniform(8, 28, size=2)
        blob = (yy / a) ** 2 + (xx / b) ** 2 <= 1
        window = inst[cy - 30 : cy + 31, cx - 30 : cx + 31]
        if np.any(window[blob]):
            continue
        placed += 1
        window[blob] = placed
    classes = {i: 1 + (i % 2) for i in range(1, COUNT + 1)}
    labels = labels_from_instance_map(inst, class_of=classes)
    return LabelSet([c.replace(object_id=0) for c in labels], (SIZE, SIZE))


def median_ms(fn: Callable[[int], object], repeats: int) -> float:
    times = []
    for i in range(repeats):
        t = time.perf_counter()
        fn(i)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    n = args.repeats
    t = time.perf_counter()
    labels = make_labels()
    print(f"setup: {len(labels)} contours on {SIZE}x{SIZE} in {time.perf_counter() - t:.1f} s")
    rng = np.random.default_rng(1)
    centres = rng.integers(100, SIZE - 100, size=(n, 2))

    def brush_event(i: int) -> None:
        x, y = centres[i]
        labels.brush([(x, y), (x + 6, y + 3)], 10, 1)

    def polygon_add(i: int) -> None:
        x, y = centres[i]
        labels.add_polygon([(x, y), (x + 60, y + 10), (x + 40, y + 70), (x - 10, y + 50)], 2)

    def slice_cut(i: int) -> None:
        x, y = centres[i]
        labels.slice([(x - 80, y), (x + 80, y + 20)], 2)

    with tempfile.TemporaryDirectory() as tmp:
        doc_path = Path(tmp) / "img.tif"
        save_labels(Path(tmp) / "Segmentation_labels" / "img.npz", labels)
        doc = LabelDocument(doc_path, (SIZE, SIZE))
        for i in range(n):
            x, y = centres[i]
            doc.brush([(x, y)], 6, 1)

        def undo(i: int) -> None:
            doc.undo()

        path = Path(tmp) / "bench.npz"

        def save(i: int) -> None:
            save_labels(path, labels)

        def load(i: int) -> None:
            load_labels(path)

        rows = [
            ("brush event (radius 10)", median_ms(brush_event, n), 16),
            ("polygon add", median_ms(polygon_add, n), 16),
            ("slice", median_ms(slice_cut, n), 16),
            ("undo (incl. save)", median_ms(undo, n), 50),
            ("save", median_ms(save, n), 50),
            ("load", median_ms(load, n), 100),
        ]
        size_kib = path.stat().st_size / 1024
    print(f"{'operation':<26}{'median ms':>10}{'target':>8}")
    for name, ms, target in rows:
        flag = "ok" if ms <= target else "SLOW"
        print(f"{name:<26}{ms:>10.2f}{target:>8}  {flag}")
    print(f"label file: {size_kib:.0f} KiB")


if __name__ == "__main__":
    main()
