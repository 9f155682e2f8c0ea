"""Assistant timings and quality, printed (never asserted): ``python benchmarks/bench_assist.py [hed]``.

HED (auto-seg): the forward pass on a 1024x1024 field of view (first call, which compiles, and the
mean of the next ones), the whole auto-seg (edges, threshold, objects), and its quality on
skimage's coins against tests/data/coins_reference_labels.png.  Needs the HED weights (fetched on
first run with ``mia weights fetch hed``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _hed_assistant():
    """The auto-seg assistant with the HED weights fetched."""
    from mia_core import weights
    from mia_core.plugins import load_plugins

    registry = load_plugins()
    weights.fetch(registry, "hed", progress=lambda stage, f: print(f"  hed weights: {stage}", flush=True))
    return registry.get("assistants", "autoseg")


def bench_hed(size: int = 1024, repeats: int = 2) -> None:
    """Seconds per HED forward pass and per auto-seg on a size x size field of view."""
    from skimage import data, transform

    assistant = _hed_assistant()
    image = (transform.resize(data.coins(), (size, size), order=1) * 255).astype(np.uint8)
    t0 = time.perf_counter()
    assistant.edge_map(image, {})
    first = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        assistant.edge_map(image, {})
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    mask = assistant.predict(image, {"inner_contours": False})
    whole = time.perf_counter() - t0
    print(f"HED {size}x{size}: first call (compiles) {first:.1f} s, then {np.mean(times):.1f} s per edge map; "
          f"auto-seg (edges + Otsu + objects) {whole:.1f} s, {mask.mean() * 100:.0f} % of pixels in objects")


def bench_hed_coins() -> None:
    """Auto-seg quality on skimage's coins: coins found with IoU >= 0.5, and their mean IoU."""
    import cv2
    from skimage import data, measure

    assistant = _hed_assistant()
    ref = cv2.imread(str(ROOT / "tests" / "data" / "coins_reference_labels.png"), cv2.IMREAD_UNCHANGED)
    found = measure.label(assistant.predict(data.coins(), {"inner_contours": False}))
    ious = []
    for coin in range(1, int(ref.max()) + 1):
        r = ref == coin
        ids = [i for i in np.unique(found[r]) if i]
        ious.append(max((np.sum(r & (found == i)) / np.sum(r | (found == i)) for i in ids), default=0.0))
    ious = np.array(ious)
    print(f"HED auto-seg on coins: {np.sum(ious >= 0.5)} of {len(ious)} coins with IoU >= 0.5, "
          f"mean IoU {ious.mean():.2f} (median {np.median(ious):.2f})")


BENCHES = {"hed": (bench_hed, bench_hed_coins)}


def main(argv: list[str]) -> int:
    """Run the named benchmark groups (all by default)."""
    names = argv or list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        print(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHES)}", file=sys.stderr)
        return 2
    for name in names:
        for bench in BENCHES[name]:
            bench()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
