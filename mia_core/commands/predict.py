"""``mia predict``: label every image of a folder with a trained model (contours in the label store)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from mia_core import cli


def register(subparsers: Any) -> None:
    """Add the ``predict`` sub-command."""
    p = subparsers.add_parser(
        "predict",
        help="label every image of a folder with a trained model",
        description="Predict every image (every frame of a stack) in FOLDER with the model in "
        "MODEL_DIR and write the result as contours to FOLDER/Segmentation_labels. Existing "
        "label files are kept unless --force is given. While it writes, it holds the label folder's "
        "write lock: another mia predict or import-masks on FOLDER is refused meanwhile.",
    )
    p.add_argument("model", metavar="MODEL_DIR", help="folder written by mia train")
    p.add_argument("folder", metavar="FOLDER", help="folder of images")
    p.add_argument("--tta", action="store_true", help="average over horizontal/vertical flips (4x slower)")
    p.add_argument("--force", action="store_true", help="overwrite existing label files")
    p.add_argument("--tile", type=int, default=512, metavar="N", help="tile side in pixels (default 512)")
    p.add_argument("--overlap", type=int, default=64, metavar="N", help="overlap between tiles (default 64)")
    p.add_argument("--fov", metavar="X,Y,W,H", help="predict only this field of view")
    p.add_argument("--background", action="store_true", help="also write class-0 (background) contours")
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
    """Predict the folder; 0 on success, 2 when the model, images or options cannot be used or
    another command is writing the folder."""
    out, err = out or sys.stdout, err or sys.stderr
    from mia_core.cli import disabled_plugins
    from mia_core.engine.checkpoint import ModelLoadError
    from mia_core.engine.predict import LabelsExistError, PredictionError, TileSettings, predict_folder
    from mia_core.folder_lock import FolderBusyError, label_folder_lock
    from mia_core.label_store import LABEL_FOLDER, LabelStoreError
    from mia_core.plugins import load_plugins

    try:
        fov = parse_fov(args.fov)
        tiles = TileSettings(args.tile, args.overlap).checked()
    except ValueError as exc:
        print(f"mia predict: {exc}", file=err)
        return 2
    swapped = swapped_arguments(args.model, args.folder)
    if swapped:
        print(f"mia predict: {swapped}", file=err)
        return 2

    def report(done: int, total: int, name: str) -> None:
        if name:
            print(f"[{done + 1}/{total}] {name}", file=err, flush=True)

    try:
        with label_folder_lock(args.folder, "mia predict") as lock:
            if not lock.held:
                print(f"mia predict: {lock.note}; do not run another batch writer on {args.folder} "
                      "meanwhile", file=err)
            written = predict_folder(
                args.model, args.folder, tta=args.tta, force=args.force, tiles=tiles, fov=fov,
                include_background=args.background, registry=load_plugins(disabled=disabled_plugins(args)),
                progress=report,
            )
    except LabelsExistError as exc:
        print(f"mia predict: {len(exc.existing)} label file(s) already exist in "
              f"{exc.existing[0].parent}, e.g. {exc.existing[0].name}; use --force to overwrite them", file=err)
        return 2
    except (ModelLoadError, PredictionError, LabelStoreError, FolderBusyError) as exc:
        print(f"mia predict: {exc}", file=err)
        return 2
    where = written[0].parent if written else Path(args.folder) / LABEL_FOLDER
    print(f"predicted {len(written)} image(s)/frame(s); labels written to {where}", file=out)
    return 0


def swapped_arguments(model: str, folder: str) -> str | None:
    """Why MODEL_DIR and FOLDER look given the wrong way round, or None."""
    from mia_core.engine.checkpoint_files import CONFIG_FILE

    model_dir, image_dir = Path(model), Path(folder)
    if (image_dir / CONFIG_FILE).is_file() and not (model_dir / CONFIG_FILE).is_file():
        return (f"FOLDER {image_dir} is a model folder (it holds {CONFIG_FILE}) and MODEL_DIR {model_dir} "
                f"is not: the arguments look swapped; the model comes first: mia predict {image_dir} {model_dir}")
    return None
