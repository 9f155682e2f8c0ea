"""GUI-thread time of the app with many contours: showing an image, redrawing after an edit, and
each pointer move while a brush stroke previews its swath.

Issue targets: no work longer than ~50 ms on the GUI thread; a pointer move with the stroke
preview under 16 ms (4096x4096 image, 2,000 contours). Runs offscreen (no display needed).
Run: python benchmarks/bench_viewer.py [--contours 2000] [--repeats 10] [--stroke-size 4096]
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
    parser.add_argument("--stroke-size", type=int, default=4096, help="image side for the stroke preview")
    parser.add_argument("--moves", type=int, default=400, help="pointer moves in the previewed stroke")
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
    stroke_preview(app, Path(tempfile.mkdtemp(prefix="mia-bench-stroke-")), args)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def stroke_preview(app, root: Path, args) -> None:
    """GUI-thread time per pointer move (event, tool, preview update and the repaint it causes)
    while the brush previews a stroke, whole image in view and zoomed to 1:1."""
    from PyQt5.QtCore import QEvent, QObject, QPointF, Qt
    from PyQt5.QtGui import QMouseEvent

    from mia_core.plugins import load_plugins
    from mia_core.viewer.settings import UserSettings
    from mia_core.viewer.window import MainWindow

    folder = make_folder(root, args.stroke_size, args.contours)
    settings, warning = UserSettings.load()
    window = MainWindow(load_plugins(disabled=()), settings, warning)
    window.resize(1200, 800)
    window.show()
    deadline = time.perf_counter() + 120
    window.open_folder(folder)
    while (window.document is None or window.loader.busy or window.canvas.contours.pending) and time.perf_counter() < deadline:
        app.processEvents()
        time.sleep(0.001)
    canvas = window.canvas
    viewport = canvas.viewport()

    class Paints(QObject):
        count = 0

        def eventFilter(self, obj, ev):  # noqa: N802 - Qt naming
            if ev.type() == QEvent.Paint:
                Paints.count += 1
            return False

    paints = Paints()
    viewport.installEventFilter(paints)
    window.tools.select("expand")
    window.tools.set_size(10)
    n = len(window.document.labels)

    def send(kind, x: float, y: float, held: bool = True) -> None:
        pos = QPointF(canvas.image_to_widget(x, y))
        button = Qt.NoButton if kind == QEvent.MouseMove else Qt.LeftButton
        ev = QMouseEvent(kind, pos, QPointF(viewport.mapToGlobal(pos.toPoint())), button,
                         Qt.LeftButton if held else Qt.NoButton, Qt.NoModifier)
        app.sendEvent(viewport, ev)

    def hover(cx: float, cy: float, radius: float) -> list[float]:
        """The same path without a button held: only the brush circle moves (the baseline)."""
        times = []
        for i in range(1, args.moves + 1):
            a = 4 * np.pi * i / args.moves
            r = radius * (0.5 + 0.5 * i / args.moves)
            t = time.perf_counter()
            send(QEvent.MouseMove, cx + r * np.cos(a), cy + r * np.sin(a), held=False)
            app.processEvents()
            times.append((time.perf_counter() - t) * 1000)
        return times

    def one_stroke(cx: float, cy: float, radius: float) -> list[float]:
        """A spiral-ish stroke of ``args.moves`` moves; ms per move including the repaint."""
        times = []
        send(QEvent.MouseButtonPress, cx + radius, cy)
        app.processEvents()
        for i in range(1, args.moves + 1):
            a = 4 * np.pi * i / args.moves
            r = radius * (0.5 + 0.5 * i / args.moves)
            t = time.perf_counter()
            send(QEvent.MouseMove, cx + r * np.cos(a), cy + r * np.sin(a))
            app.processEvents()  # the scene's update: the repaint of the changed area
            times.append((time.perf_counter() - t) * 1000)
        window.tools.cancel()  # drop the stroke: the bench measures the preview, not the edit
        send(QEvent.MouseButtonRelease, cx, cy)
        app.processEvents()
        return times

    print(f"\nbrush stroke preview: {n} contours on a {args.stroke_size}x{args.stroke_size} image, "
          f"brush radius 10 px, {args.moves} moves per stroke, load average {os.getloadavg()[0]:.1f}")
    print(f"{'GUI-thread time per pointer move':<40}{'median ms':>10}{'p95 ms':>9}{'max ms':>9}{'paints':>8}")
    half = args.stroke_size / 2
    for label, setup, radius in [
        ("whole image in view", lambda: canvas.fit(), args.stroke_size / 4),
        ("zoomed to 1:1", lambda: canvas.zoom_by(1.0 / canvas.zoom()), 150.0),
    ]:
        setup()
        app.processEvents()
        label = f"{label} (zoom {canvas.zoom():.2f})"
        for what, run in ((": hover", hover), (": stroke", one_stroke)):
            Paints.count = 0
            times = run(half, half, radius)
            print(f"{label + what:<40}{statistics.median(times):>10.1f}{percentile(times, 95):>9.1f}"
                  f"{max(times):>9.1f}{Paints.count:>8}")
    window.close()


if __name__ == "__main__":
    main()
