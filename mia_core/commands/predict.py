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
        "write lock: another mia predict or import-masks on FOLDER is refused meanwhile. The "
        "predicted objects are postprocessed as the model's training labels imply: per class, objects "
        "under a quarter of the labelled objects' median area are dropped (in classes of at least 10 "
        "labelled objects) and, where the labels hold touching objects, touching predictions are split at "
        "the distance that best separated the labels (--min-size 0 --no-separate turn it off).",
    )
    p.add_argument("model", metavar="MODEL_DIR", help="folder written by mia train")
    p.add_argument("folder", metavar="FOLDER", help="folder of images")
    p.add_argument("--tta", action="store_true", help="average over horizontal/vertical flips (4x slower)")
    p.add_argument("--force", action="store_true", help="overwrite existing label files")
    p.add_argument("--tile", type=int, default=512, metavar="N", help="tile side in pixels (default 512)")
    p.add_argument("--overlap", type=int, default=64, metavar="N", help="overlap between tiles (default 64)")
    p.add_argument("--fov", metavar="X,Y,W,H", help="predict only this field of view")
    p.add_argument("--background", action="store_true", help="also write class-0 (background) contours")
    add_postprocessing_options(p)
    cli.add_disable_option(p)
    p.set_defaults(func=run)


def add_postprocessing_options(p: argparse.ArgumentParser) -> None:
    """--min-size, --separate/--no-separate, --min-distance: defaults from the model's training objects
    (shared by mia predict and mia evaluate MODEL_DIR, which must score what predict writes)."""
    p.add_argument("--min-size", type=int, default=None, metavar="N",
                   help="drop predicted contours under N pixels, in every foreground class (default: the "
                   "model's, a quarter of its training objects' median area per class of at least 10 objects; "
                   "0 turns it off)")
    p.add_argument("--separate", action=argparse.BooleanOptionalAction, default=None,
                   help="split touching predicted objects, in every foreground class (default: the model's, "
                   "only the classes whose training labels hold touching objects)")
    p.add_argument("--min-distance", type=int, default=None, metavar="N",
                   help="with separation: the least distance in pixels between two object centres (default: "
                   "the model's, calibrated per class on its training labels; 20 when it has none)")


def postprocessing_plan(args: argparse.Namespace, info: Any) -> tuple[dict[int, Any], str]:
    """The per-class postprocessing of a prediction with this model and these options, and the line
    that says what it is."""
    from mia_core.object_scale import model_postprocessing, postprocessing_note

    given = {k: getattr(args, k, None) for k in ("separate", "min_size", "min_distance")}
    plan = model_postprocessing(info, **given)
    return plan, postprocessing_note(plan, from_model=all(v is None for v in given.values()))


def check_postprocessing_options(args: argparse.Namespace) -> str | None:
    """Why --min-size or --min-distance cannot be used, or None."""
    if (getattr(args, "min_size", None) or 0) < 0:
        return "--min-size must be 0 or more"
    if getattr(args, "min_distance", None) is not None and args.min_distance < 1:
        return "--min-distance must be 1 or more"
    return None


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
    """Predict the folder; 0 on success, 1 when some image could not be predicted, 2 when the model,
    folder or options cannot be used or another command is writing the folder."""
    out, err = out or sys.stdout, err or sys.stderr
    from mia_core.cli import disabled_plugins
    from mia_core.engine.checkpoint import ModelLoadError, read_model_info
    from mia_core.engine.predict import LabelsExistError, PredictionError, TileSettings, predict_folder
    from mia_core.folder_lock import FolderBusyError, label_folder_lock
    from mia_core.label_store import LabelStoreError
    from mia_core.plugins import load_plugins
    from mia_core.results import ExportError, check_postprocessors, postprocess_files

    try:
        fov = parse_fov(args.fov)
        tiles = TileSettings(args.tile, args.overlap).checked()
        bad = check_postprocessing_options(args)
        if bad:
            raise ValueError(bad)
    except ValueError as exc:
        print(f"mia predict: {exc}", file=err)
        return 2
    swapped = swapped_arguments(args.model, args.folder)
    if swapped:
        print(f"mia predict: {swapped}", file=err)
        return 2

    tty = bool(getattr(err, "isatty", lambda: False)())
    shown = {"line": False}

    def report(done: int, total: int, name: str) -> None:
        if shown["line"]:
            err.write("\n")
            shown["line"] = False
        if name:
            print(f"[{done + 1}/{total}] {name}", file=err, flush=True)

    def tile_report(name: str, done: int, total: int) -> None:
        if total < 2:
            return
        if tty:  # redraw one line; a log gets a line every tenth of the tiles
            err.write(f"\r  tile {done}/{total}")
            shown["line"] = done < total
            if done == total:
                err.write("\n")
            err.flush()
        elif done == total or done * 10 // total != (done - 1) * 10 // total:
            print(f"  tile {done}/{total}", file=err, flush=True)

    try:
        with label_folder_lock(args.folder, "mia predict") as lock:
            if not lock.held:
                print(f"mia predict: {lock.note}; do not run another batch writer on {args.folder} "
                      "meanwhile", file=err)
            registry = load_plugins(disabled=disabled_plugins(args))
            plan, note = postprocessing_plan(args, read_model_info(args.model))
            check_postprocessors(registry, plan)
            result = predict_folder(
                args.model, args.folder, tta=args.tta, force=args.force, tiles=tiles, fov=fov,
                include_background=args.background, registry=registry,
                progress=report, tile_progress=tile_report,
            )
            view = None if fov is None else (fov[0], fov[1], fov[0] + fov[2], fov[1] + fov[3])
            postprocess_files(registry, result.written, plan, view)  # objects the --fov cuts are kept
            print(note, file=out)
    except LabelsExistError as exc:
        print(f"mia predict: {len(exc.existing)} label file(s) already exist in "
              f"{exc.existing[0].parent}, e.g. {exc.existing[0].name}; use --force to overwrite them", file=err)
        return 2
    except (ModelLoadError, PredictionError, LabelStoreError, FolderBusyError, ExportError) as exc:
        print(f"mia predict: {exc}", file=err)
        return 2
    return summarise(result, args.folder, out, err)


def swapped_arguments(model: str, folder: str) -> str | None:
    """Why MODEL_DIR and FOLDER look given the wrong way round, or None."""
    from mia_core.engine.checkpoint_files import CONFIG_FILE

    model_dir, image_dir = Path(model), Path(folder)
    if (image_dir / CONFIG_FILE).is_file() and not (model_dir / CONFIG_FILE).is_file():
        return (f"FOLDER {image_dir} is a model folder (it holds {CONFIG_FILE}) and MODEL_DIR {model_dir} "
                f"is not: the arguments look swapped; the model comes first: mia predict {image_dir} {model_dir}")
    return None


def summarise(result: Any, folder: str, out: TextIO, err: TextIO) -> int:
    """Say what was written, found empty and skipped; 1 when any image could not be predicted."""
    from mia_core.label_store import LABEL_FOLDER

    for name, reason in result.failed:
        print(f"mia predict: skipped {name}: {reason}", file=err)
    where = result.written[0].parent if result.written else Path(folder) / LABEL_FOLDER
    line = f"predicted {result.predicted} image(s)/frame(s): {len(result.written)} label file(s) written to {where}"
    if result.empty:
        names = ", ".join(result.empty[:3]) + (", ..." if len(result.empty) > 3 else "")
        line += f"; nothing found in {len(result.empty)} ({names}), no label file for those"
    if result.failed:
        line += f"; {len(result.failed)} could not be predicted (see above)"
    print(line, file=out)
    return 1 if result.failed or not result.predicted else 0
