"""Peak memory and time of display scaling and prediction of one large grey image (issue 8).

Each part runs in its own process, so its peak resident memory is its own; the figure printed is
the peak minus the process's memory before the part started (libraries, the image itself).
Run: python benchmarks/bench_large_image.py [--size 20000] [--tile 512] [--part display|predict|both]
The network is the lightest built-in one (U-Net, plain encoder) with random weights: the timing and
memory of prediction do not depend on the weights.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time


def _rss_mib() -> float:
    """Peak resident memory of this process so far, MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_mib() -> float:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _image(size: int):
    import numpy as np

    rng = np.random.default_rng(0)
    image = np.empty((size, size), np.uint16)
    for r in range(0, size, 1024):  # built in bands: the generator's float64 stays small
        image[r:r + 1024] = rng.integers(0, 4096, (min(1024, size - r), size), dtype=np.uint16)
    return image


def part_display(size: int) -> None:
    from mia_core.images import to_display
    from mia_core.viewer.workers import auto_levels

    image = _image(size)
    base = _current_mib()
    t0 = time.perf_counter()
    levels = auto_levels(image[None])
    shown = to_display(image, levels)
    seconds = time.perf_counter() - t0
    print(f"display  {size}x{size} uint16: {seconds:6.1f} s, peak {_rss_mib() - base:7.0f} MiB above the "
          f"image ({shown.nbytes / 2**20:.0f} MiB of it the uint8 result)", flush=True)


def part_predict(size: int, tile: int) -> None:
    from mia_core.engine.checkpoint import ModelInfo
    from mia_core.engine.model import build_model
    from mia_core.engine.predict import TileSettings, place_on_device, predict_frame
    from mia_core.plugins import load_plugins

    info = ModelInfo("unet", "plain", 2, 1, ["background", "cells"], "per-image", 128)
    model = build_model(load_plugins(), info.architecture, info.backbone, 2, 1)
    model.eval()
    place_on_device(model)
    image = _image(size)
    predict_frame(model, image[:tile, :tile], info, TileSettings(tile))  # compile first
    base = _current_mib()
    seen = {"last": 0.0}
    t0 = time.perf_counter()

    def progress(done: int, total: int) -> None:
        now = time.perf_counter() - t0
        if now - seen["last"] > 30 or done == total:
            seen["last"] = now
            print(f"  tile {done}/{total} after {now:.0f} s", flush=True)

    out = predict_frame(model, image, info, TileSettings(tile), progress=progress)
    seconds = time.perf_counter() - t0
    print(f"predict  {size}x{size} uint16, tile {tile}: {seconds:6.1f} s ({size * size / seconds / 1e6:.2f} MP/s), "
          f"peak {_rss_mib() - base:7.0f} MiB above the image and model ({out.nbytes / 2**20:.0f} MiB of it the "
          "int16 class map)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20000, help="image side in pixels (default 20000)")
    parser.add_argument("--tile", type=int, default=512)
    parser.add_argument("--part", choices=("display", "predict", "both"), default="both")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        part_display(args.size) if args.part == "display" else part_predict(args.size, args.tile)
        return
    load = os.getloadavg()[0]
    print(f"load average {load:.1f}, {os.cpu_count()} CPUs", flush=True)
    for part in (("display", "predict") if args.part == "both" else (args.part,)):
        subprocess.run([sys.executable, __file__, "--child", "--part", part, "--size", str(args.size),
                        "--tile", str(args.tile)], check=True)


if __name__ == "__main__":
    main()
