"""``mia dextr train``: train the DEXTR assistant on the contours labelled in image folders."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from mia_core import cli


def register(subparsers: Any) -> None:
    """Add the ``dextr`` sub-command."""
    p = subparsers.add_parser(
        "dextr",
        help="train the DEXTR extreme-point assistant on your labels",
        description="DEXTR segments an object from its 4 extreme points. No DEXTR weights exist "
        "offline, so mia trains it on the contours labelled in your image folders, simulating "
        "jittered extreme points for every contour.",
    )
    sub = p.add_subparsers(dest="dextr_command", metavar="ACTION", required=True)
    t = sub.add_parser("train", help="train a DEXTR model folder on labelled images",
                       description="Train DEXTR on every labelled contour of the images in FOLDER(s) "
                       "and save it to MODEL (dextr.json + weights.msgpack). Point the app's DEXTR "
                       "tool at it with Assist > DEXTR model, or save it as FOLDER/DEXTR_model, "
                       "where the app finds it.")
    t.add_argument("folders", nargs="+", metavar="FOLDER", help="image folder(s) with labels")
    t.add_argument("--out", required=True, metavar="MODEL", help="model folder to write")
    t.add_argument("--steps", type=int, default=2000, metavar="N", help="training steps (default 2000)")
    t.add_argument("--input-size", type=int, default=512, metavar="N",
                   help="network input side in pixels, a multiple of 32 (default 512, as MIA)")
    t.add_argument("--width", type=float, default=1.0, metavar="W", help="MobileNetV2 width multiplier (default 1.0)")
    t.add_argument("--batch", type=int, default=4, metavar="N", help="objects per step (default 4)")
    t.add_argument("--weights", default="auto", metavar="NAME",
                   help="encoder start: weights cached by `mia weights fetch` (e.g. imagenet), 'none' for "
                   "scratch, or 'auto' (default: ImageNet MobileNetV2 when fetched and --width is 1.0)")
    t.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")
    cli.add_disable_option(t)
    t.set_defaults(func=run_train)


def run_train(args: argparse.Namespace) -> int:
    """Collect labelled contours, train, save; errors name the flag or path."""
    from mia_core.api import AssistantError
    from mia_core.assist import labelled_pictures
    from mia_core.plugins import load_plugins

    for f in args.folders:
        if not Path(f).is_dir():
            print(f"mia dextr train: FOLDER {f} is not a folder", file=sys.stderr)
            return 2
    if args.input_size <= 0 or args.input_size % 32:
        print(f"mia dextr train: --input-size must be a positive multiple of 32, got {args.input_size}", file=sys.stderr)
        return 2
    if args.steps < 1 or args.batch < 1 or args.width <= 0:
        print("mia dextr train: --steps, --batch and --width must be positive", file=sys.stderr)
        return 2
    registry = load_plugins(disabled=cli.disabled_plugins(args))
    try:
        dextr = registry.get("assistants", "dextr")
    except KeyError as exc:
        print(f"mia dextr train: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    labelled, skipped = labelled_pictures(args.folders)
    for line in skipped:
        print(f"skipped {line}", file=sys.stderr)
    count = sum(1 for _, labels in labelled for c in labels if c.class_id != 0)
    if not count:
        print(f"mia dextr train: no labelled contours in {', '.join(args.folders)}; label some objects first", file=sys.stderr)
        return 2
    print(f"training DEXTR on {count} contour(s) from {len(labelled)} labelled frame(s)")
    start = time.perf_counter()

    def progress(step: int, steps: int, loss: float) -> None:
        if step == steps or step % max(steps // 20, 1) == 0:
            print(f"step {step}/{steps}  loss {loss:.4f}  {time.perf_counter() - start:.0f} s", flush=True)

    try:
        config = dextr.train(labelled, args.out, steps=args.steps, input_size=args.input_size, width=args.width,
                             batch=args.batch, seed=args.seed, progress=progress, registry=registry,
                             weights=args.weights)
    except AssistantError as exc:
        print(f"mia dextr train: {exc}", file=sys.stderr)
        return 2
    start_from = (f"encoder from {config.pretrained}" if config.pretrained
                  else "from scratch (run `mia weights fetch mobilenetv2-imagenet` for ImageNet weights)")
    print(f"saved DEXTR model to {args.out} ({start_from})")
    return 0
