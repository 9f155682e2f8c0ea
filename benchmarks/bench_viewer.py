"""GUI-thread time of the app with many contours: showing an image and redrawing after an edit.

Issue target: no work longer than ~50 ms on the GUI thread. Runs offscreen (no display needed).
Run: python benchmarks/bench_viewer.py [--contours 2000] [--repeats 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import tifffile  # noqa: E402

from mia_core.label_store import label_path, save_labels  # noqa: E402
from mia_core.labels import LabelSet  # noqa: E402


def make_folder(root: Path, size: int, count: int) -> Path:
    """One size x size image with ``count`` square nuclei labelled, and an unlabelled second one."""
    rng = np.random.default_rng(0)
    image = (rng.random((size, size)) * 200).astype(np.uint8)
    tifffile.imwrite(root / "a.tif", image)
    tifffile.imwrite(root / "b.tif", image)
    side = int(np.sqrt(count)) + 1
    step = size // side
    contours = []
    for i in range(count):
        x, y = (i % side) * step + 2, (i // side) * step + 2
        w = step - 4
        contours.append([(x, y), (x + w, y), (x + w, y + w), (x, y + w)])
    labels = LabelSet(shape=(size, size))
    for c in contours:
        labels = labels.add_polygon(c, 1 + len(labels) % 2)
    save_labels(label_path(root / "a.tif"), labels)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contours", type=int, default=2000)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()

    from PyQt5.QtWidgets import QApplication

    from mia_core.plugins import load_plugins
    from mia_core.viewer.settings import UserSettings
    from mia_core.viewer.window import MainWindow

    tmp = Path(tempfile.mkdtemp(prefix="mia-bench-viewer-"))
    os.environ.setdefault("MIA_CONFIG_DIR", str(tmp / "config"))
    folder = make_folder(tmp, args.size, args.contours)
    app = QApplication.instance() or QApplication([])
    settings, warning = UserSettings.load()
    window = MainWindow(load_plugins(disabled=()), settings, warning)
    window.resize(1200, 800)
    window.show()

    def wait(cond) -> None:
        deadline = time.perf_counter() + 60
        while not cond() and time.perf_counter() < deadline:
            app.processEvents()
            time.sleep(0.001)

    window.open_folder(folder)
    wait(lambda: window.document is not None and not window.loader.busy)
    app.processEvents()

    def timed(action) -> float:
        t = time.perf_counter()
        action()
        app.processEvents()
        window.canvas.grab()  # forces a full paint of the scene, as a screen update would
        return (time.perf_counter() - t) * 1000

    layer = window.canvas.contours

    def open_blocks() -> tuple[float, float]:
        """Longest single GUI-thread block and total while all contours appear (with the paint)."""
        blocks = []
        t = time.perf_counter()
        layer.show(window.document.labels)
        blocks.append(time.perf_counter() - t)
        while layer.pending:
            t = time.perf_counter()
            app.processEvents()
            blocks.append(time.perf_counter() - t)
        t = time.perf_counter()
        window.canvas.grab()
        blocks.append(time.perf_counter() - t)
        return max(blocks) * 1000, sum(blocks) * 1000

    longest, total = [], []
    for _ in range(max(args.repeats // 2, 2)):
        layer.show(None)
        app.processEvents()
        a, b = open_blocks()
        longest.append(a)
        total.append(b)
    edit_ms = []
    for i in range(args.repeats):
        x = 10 + 3 * i
        edit_ms.append(timed(lambda x=x: window.document.brush([(x, 10)], 4, 1)))
    paint_ms = [timed(lambda: None) for _ in range(args.repeats)]
    n = len(window.document.labels)
    print(f"{n} contours on a {args.size}x{args.size} image, whole image in view")
    print(f"{'GUI-thread work':<40}{'median ms':>10}{'max ms':>9}")
    for name, values in [
        ("opening: longest single block", longest),
        ("opening: all contours drawn, in total", total),
        ("edit: save + redraw changed contours", edit_ms),
        ("repaint only", paint_ms),
    ]:
        print(f"{name:<40}{statistics.median(values):>10.1f}{max(values):>9.1f}")
    window.close()


if __name__ == "__main__":
    main()
