"""``mia predict``: label every image of a folder with a trained model (contours in the label store)."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from mia_core import cli


def register(subparsers: Any) -> None:
    """Add the ``predict`` sub-command."""
    p = subparsers.add_parser(
        "predict",
        help="label every image of a folder with a trained model",
        description="Predict every image (every frame of a stack) in FOLDER with the model in "
        "MODEL_DIR and write the result as contours to FOLDER/Segmentation_labels. Existing "
        "label files are kept unless --force is given.",
    )
    p.add_argument("model", metavar="MODEL_DIR", help="folder written by mia train")
    p.add_argument("folder", metavar="FOLDER", help="folder of images")
    p.add_argument("--tta", action="store_true", help="average over horizontal/vertical flips (4x slower)")
    p.add_argument("--force", action="store_true", help="overwrite existing label files")
    p.add_argument("--tile", type=int, default=512, metavar="N", help="tile side in pixels (default 512)")
    p.add_argument("--overlap", type=int, default=64, metavar="N", help="overlap between tiles (default 64)")
    p.add_argument("--fov", metavar="X,Y,W,H", help="predict only this field of view")
    p.add_argument("--background", action="store_true", help="also write class-0 (background) contours")
    p.add_argument("--min-size", type=int, default=0, metavar="N", help="drop predicted contours under N pixels")
    p.add_argument("--separate", action="store_true", help="split touching predicted objects of a class")
    cli.add_disable_option(p)
    p.set_defaults(func=run)


def parse_fov(text: str | None) -> tuple[int, int, int, int] | None:
    """Parse X,Y,W,H (whole numbers, positive width and height)."""
    if text is None:
        return None
    parts = text.split(",")
    try:
        x, y, w, h = (int(v) for v in parts)
    except ValueError:
        raise ValueError(f"--fov takes X,Y,W,H whole numbers, got {text!r}") from None
    if w <= 0 or h <= 0:
        raise ValueError(f"--fov width and height must be positive, got {text!r}")
    return x, y, w, h


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Predict the folder; 0 on success, 2 when the model, images or options cannot be used."""
    out, err = out or sys.stdout, err or sys.stderr
    from mia_core.cli import disabled_plugins
    from mia_core.engine.checkpoint import ModelLoadError
    from mia_core.engine.predict import PredictionError, TileSettings, predict_folder
    from mia_core.label_store import LabelStoreError
    from mia_core.plugins import load_plugins

    try:
        fov = parse_fov(args.fov)
        tiles = TileSettings(args.tile, args.overlap).checked()
    except ValueError as exc:
        print(f"mia predict: {exc}", file=err)
        return 2

    def report(done: int, total: int, name: str) -> None:
        if name:
            print(f"[{done + 1}/{total}] {name}", file=err, flush=True)

    registry = load_plugins(disabled=disabled_plugins(args))
    try:
        written = predict_folder(
            args.model, args.folder, tta=args.tta, force=args.force, tiles=tiles, fov=fov,
            include_background=args.background, registry=registry,
            progress=report,
        )
        if getattr(args, "min_size", 0) > 0 or getattr(args, "separate", False):
            from mia_core.results import ExportSettings, postprocess_files

            postprocess_files(registry, written, ExportSettings(min_size=args.min_size, separate=args.separate))
    except (ModelLoadError, PredictionError, LabelStoreError) as exc:
        print(f"mia predict: {exc}", file=err)
        return 2
    print(f"predicted {len(written)} image(s)/frame(s); labels written to the label folder of {args.folder}", file=out)
    return 0
