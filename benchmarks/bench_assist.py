"""Labelling assistants: speed and quality, printed (never asserted).

GrabCut (Smart mode): time per stroke on a 500,000-pixel field of view (target <= 1 s on the
2-core machine), 1 iteration with the colour models kept, and IoU after 1-3 strokes.
DEXTR: trained by mia on generated shapes (ellipses, blobs, thin curved objects, touching pairs),
mean IoU per kind on held-out shapes against the GrabCut fallback (box + points as sure
foreground), and time per click set. Targets: > 0.85 for compact shapes, above the fallback for
every kind. MIA's settings are the default (512 px input, MobileNetV2 width 1.0 from the ImageNet
weights when `mia weights fetch mobilenetv2-imagenet` has cached them, 2000 steps); lower them with
the options on a busy machine and report what you ran. The pictures are fluorescence-like
(mia_core/shapes.py says exactly what they are: filled objects of similar brightness, touching
pairs with no edge between them, neighbours, a PSF blur, uneven illumination, a textured
background, Poisson and read noise); training and held-out pictures come from different seeds,
and the held-out clicks are jittered by up to 3 px as a user's are.

HED (Auto-seg): the forward pass on a 1024x1024 field of view (first call, which compiles, and the
mean of the next ones), the whole auto-seg, and its quality on skimage's coins against
tests/data/coins_reference_labels.png (needs `mia weights fetch hed`).

Run: python benchmarks/bench_assist.py [--part grabcut|dextr|hed|all] [--steps N] [--input-size N]
     [--width W] [--per-kind N] [--shape-size N] [--batch N] [--weights auto|none|NAME] [--out MODEL]
     [--model MODEL (evaluate a saved DEXTR model folder instead of training)]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from mia_core.api import AssistantSession
from mia_core.assist import points_hints
from mia_core.raster import brush_mask
from mia_core.shapes import KINDS, make_set

ROOT = Path(__file__).resolve().parents[1]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


def grabcut_view(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A 1000x500 (500,000 px) grey view with a few textured bright objects, and the target mask."""
    rng = np.random.default_rng(seed)
    h, w = 500, 1000
    img = rng.normal(60, 15, (h, w))
    yy, xx = np.mgrid[:h, :w]
    target = ((yy - 250) / 150.0) ** 2 + ((xx - 400) / 220.0) ** 2 < 1
    img[target] += 90 + 20 * np.sin(xx[target] / 9.0)
    for cx, cy in ((850, 120), (880, 400)):
        img[((yy - cy) ** 2 + (xx - cx) ** 2) < 50**2] += 70
    img = cv2.GaussianBlur(np.clip(img, 0, 255).astype(np.float32), (0, 0), 1.2)
    return img.astype(np.uint8), target


def bench_grabcut(repeats: int) -> None:
    from mia_plugins.assistants.grabcut import GrabCutAssistant

    img, target = grabcut_view()
    g = GrabCutAssistant()
    strokes = [
        ("foreground", brush_mask(np.array([[250, 250], [550, 250]]), 8, img.shape)),
        ("background", brush_mask(np.array([[850, 60], [850, 460]]), 8, img.shape)),
        ("foreground", brush_mask(np.array([[400, 140], [400, 360]]), 8, img.shape)),
    ]
    times: list[list[float]] = [[] for _ in strokes]
    ious: list[list[float]] = [[] for _ in strokes]
    for _ in range(repeats):
        session = AssistantSession()
        fg = np.zeros(img.shape, bool)
        bg = np.zeros(img.shape, bool)
        for i, (kind, m) in enumerate(strokes):
            (fg if kind == "foreground" else bg)[m] = True
            t = time.perf_counter()
            mask = g.predict(img, {"foreground": fg, "background": bg}, session=session)
            times[i].append(time.perf_counter() - t)
            ious[i].append(iou(mask, target))
    print(f"GrabCut, {img.shape[1]}x{img.shape[0]} = {img.size:,} px view, 1 iteration per stroke, models kept:")
    for i, (kind, _m) in enumerate(strokes):
        print(f"  stroke {i + 1} ({kind:10s}): median {statistics.median(times[i]) * 1000:6.0f} ms  "
              f"IoU {statistics.mean(ious[i]):.3f}")
    big = cv2.resize(img, (2000, 1000))
    big_fg = cv2.resize(strokes[0][1].astype(np.uint8), (2000, 1000), interpolation=cv2.INTER_NEAREST) > 0
    t = time.perf_counter()
    g.predict(big, {"foreground": big_fg})
    print(f"  2000x1000 view (downscaled to <= 500,000 px): {(time.perf_counter() - t) * 1000:.0f} ms")


def bench_dextr(args: argparse.Namespace) -> None:
    from mia_plugins.assistants.dextr import DextrConfig, Sample, jittered_points, load_dextr, segment, train_dextr
    from mia_plugins.assistants.grabcut import GrabCutAssistant

    test = make_set(KINDS, args.held_out, 2, args.shape_size)
    if args.model:
        model, config = load_dextr(args.model)
        print(f"DEXTR: the model in {args.model} (input {config.input_size} px, width {config.width}, "
              f"{config.steps} steps, encoder from {config.pretrained or 'scratch'})")
    else:
        train = [Sample(p, m) for _, p, m in make_set(KINDS, args.per_kind, 1, args.shape_size)]
        config = DextrConfig(input_size=args.input_size, width=args.width)
        if args.decoder:
            config.decoder_channels = tuple(int(c) for c in args.decoder.split(","))
        print(f"DEXTR: training on {len(train)} generated objects ({args.shape_size} px pictures), input "
              f"{config.input_size} px, MobileNetV2 width {config.width}, decoder {config.decoder_channels}, "
              f"{args.steps} steps x batch {args.batch}, lr {args.lr}, weights {args.weights}")
        start = time.perf_counter()

        def progress(step: int, steps: int, loss: float) -> None:
            if step % max(steps // 20, 1) == 0:
                print(f"  step {step}/{steps} loss {loss:.4f} {time.perf_counter() - start:.0f} s", flush=True)

        model, config = train_dextr(train, config, steps=args.steps, batch=args.batch, learning_rate=args.lr,
                                    progress=progress, weights=args.weights, out=args.out or None)
        print(f"  trained in {time.perf_counter() - start:.0f} s, encoder from {config.pretrained or 'scratch'}"
              + (f", saved to {args.out}" if args.out else ""))
    grabcut = GrabCutAssistant()
    rng = np.random.default_rng(7)
    rows: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in KINDS}
    times = []
    for kind, picture, mask in test:
        pts = jittered_points(mask, rng, jitter=3.0)  # as a user clicks: near, not on, the extremes
        t = time.perf_counter()
        ours = segment(model, config, picture, pts)
        times.append(time.perf_counter() - t)
        fallback = grabcut.predict(picture, points_hints(pts, mask.shape))
        rows[kind][0].append(iou(ours, mask))
        rows[kind][1].append(iou(fallback, mask))
    import os

    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"  held-out mean IoU ({len(test) // len(KINDS)} per kind), DEXTR vs GrabCut fallback (load {load}):")
    for kind, (ours, fb) in rows.items():
        print(f"    {kind:9s} DEXTR {statistics.mean(ours):.3f}   fallback {statistics.mean(fb):.3f}")
    print(f"  DEXTR per click set: median {statistics.median(times[1:]) * 1000:.0f} ms (first call, compiling: "
          f"{times[0] * 1000:.0f} ms)")


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
    # objects that are no coin (IoU < 0.5 with every one): spurs, gaps between coins, edge fragments
    extra = sum(1 for i in range(1, int(found.max()) + 1)
                if not any(np.sum((ref == c) & (found == i)) / np.sum((ref == c) | (found == i)) >= 0.5
                           for c in np.unique(ref[found == i]) if c))
    print(f"HED auto-seg on coins: {np.sum(ious >= 0.5)} of {len(ious)} coins with IoU >= 0.5, "
          f"mean IoU {ious.mean():.2f} (median {np.median(ious):.2f}); {int(found.max())} objects found, "
          f"{extra} of them no coin")



def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", choices=("grabcut", "dextr", "hed", "all"), default="all")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--input-size", type=int, default=512)
    p.add_argument("--width", type=float, default=1.0)
    p.add_argument("--decoder", default="", help="decoder widths, e.g. 64,32,16,16,8 (default U-Net's)")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--per-kind", type=int, default=150, help="training objects per kind")
    p.add_argument("--held-out", type=int, default=20, help="held-out objects per kind")
    p.add_argument("--weights", default="auto", help="encoder start: auto (ImageNet when cached and width 1), none, a name")
    p.add_argument("--out", default="", help="save the trained DEXTR model folder here")
    p.add_argument("--model", default="", help="evaluate this DEXTR model folder instead of training one")
    p.add_argument("--shape-size", type=int, default=160)
    args = p.parse_args()
    if args.part in ("grabcut", "all"):
        bench_grabcut(args.repeats)
    if args.part in ("dextr", "all"):
        bench_dextr(args)
    if args.part in ("hed", "all"):
        bench_hed()
        bench_hed_coins()


if __name__ == "__main__":
    main()
