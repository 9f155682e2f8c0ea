"""``mia evaluate``: score labels, or a model's predictions, against ground-truth masks."""

from __future__ import annotations

import argparse
import csv
import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from mia_core import evaluation as ev
from mia_core.images import ImageReadError, image_shape, list_images, read_image

_EPILOG = """\
definitions (mia_core/evaluation.py):
  IoU_k = |P_k & T_k| / |P_k | T_k| and Dice_k = 2|P_k & T_k| / (|P_k| + |T_k|) per class k; the
  overall row pools the pixel counts of every image. Objects are the truth instances (or, with
  --truth-classes, the 8-connected components of each class) and the 8-connected components of each
  predicted class. At IoU threshold t predicted and true objects are matched one to one (Hungarian
  assignment) to give the most pairs with IoU >= t: TP = those pairs, FP = unmatched predictions,
  FN = unmatched truth. precision = TP/(TP+FP), recall = TP/(TP+FN), F1 = 2TP/(2TP+FP+FN) (at t=0.5),
  AP(t) = TP/(TP+FP+FN), mAP = mean AP over t = 0.5, 0.55, ..., 0.95. fp_pixels: the share of the
  pixels of images whose truth holds no object that are predicted as foreground.

exit status: 0 scored, 2 bad input (nothing written).
"""


class EvaluationInputError(ValueError):
    """Inputs that cannot be scored; the message names the file or option."""


def register(subparsers: Any) -> None:
    """Add the ``evaluate`` sub-command."""
    from mia_core import cli

    p = subparsers.add_parser(
        "evaluate",
        help="score labels or a model against ground-truth masks",
        description="mia evaluate FOLDER --truth MASKS scores the label files of FOLDER; "
        "mia evaluate MODEL_DIR FOLDER --truth MASKS predicts every image of FOLDER in memory "
        "(nothing is written unless --write) and scores the predictions. A mask in MASKS is "
        "matched to the image with the same stem (+ --mask-suffix).",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="FOLDER, or MODEL_DIR FOLDER")
    p.add_argument("--truth", required=True, metavar="DIR", help="folder of ground-truth masks named like the images")
    p.add_argument("--mask-suffix", default="", metavar="TEXT", help="mask stems are image stem + TEXT")
    p.add_argument("--truth-classes", action="store_true",
                   help="truth masks hold class ids (0 = background), not object numbers")
    p.add_argument("--csv", metavar="PATH", help="also write the table as CSV to PATH")
    p.add_argument("--write", action="store_true", help="with MODEL_DIR: write the predictions as label files")
    p.add_argument("--force", action="store_true", help="with --write: replace existing label files")
    p.add_argument("--tta", action="store_true", help="with MODEL_DIR: average over flips")
    cli.add_disable_option(p)
    p.set_defaults(func=run)


@dataclass
class Frame:
    """One image or stack frame with its truth."""

    image: Path
    frame: int | None
    classes: np.ndarray  # truth class map (H, W)
    objects: list[np.ndarray]  # truth instance map per foreground class 1..K-1

    @property
    def name(self) -> str:
        return self.image.name if self.frame is None else f"{self.image.name}[{self.frame}]"


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Score and print; 2 on bad input with nothing written."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        return _run(args, out, err)
    except (EvaluationInputError, ImageReadError) as exc:
        print(f"mia evaluate: {exc}", file=err)
        return 2


def _run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if len(args.paths) > 2:
        raise EvaluationInputError("give FOLDER, or MODEL_DIR FOLDER")
    model_dir = Path(args.paths[0]) if len(args.paths) == 2 else None
    folder = Path(args.paths[-1])
    if (args.write or args.force) and model_dir is None:
        raise EvaluationInputError("--write and --force need MODEL_DIR (FOLDER's labels are scored as they are)")
    frames = _truth_frames(folder, Path(args.truth), args.mask_suffix, args.truth_classes)
    truth_top = max(int(f.classes.max()) for f in frames)
    if model_dir is not None:
        preds, num_classes = _predict(model_dir, frames, truth_top, args, err)
    else:
        preds = [_label_prediction(f) for f in frames]
        num_classes = max(truth_top, max(int(p.max()) for p in preds), 1) + 1
    rows, pooled = _score(frames, preds, num_classes)
    if args.csv:
        _write_csv(Path(args.csv), rows)
    if args.write:
        _write_labels(frames, preds, args.force)
    _print_table(rows, out)
    print(_summary(pooled, len(frames), len({f.image for f in frames})), file=out)
    return 0


# --- truth ---------------------------------------------------------------------------------
def _truth_frames(folder: Path, truth: Path, suffix: str, classes: bool) -> list[Frame]:
    """Every image of ``folder`` with a mask in ``truth``, checked before anything is scored."""
    from mia_core.commands.labels import MaskError, read_mask

    images = list_images(folder)
    if not images:
        raise EvaluationInputError(f"no images in {folder}")
    masks: dict[str, Path] = {}
    for m in list_images(truth):
        masks.setdefault(m.stem, m)
    pairs = [(img, masks[img.stem + suffix]) for img in images if img.stem + suffix in masks]
    if not pairs:
        raise EvaluationInputError(
            f"no mask in --truth {truth} is named like an image of {folder} (e.g. {images[0].stem + suffix}.tif); "
            "check the folder or --mask-suffix")
    frames: list[Frame] = []
    for image, mask_path in pairs:
        try:
            mask = read_mask(mask_path)
        except MaskError as exc:
            raise EvaluationInputError(str(exc)) from exc
        shape = image_shape(image)
        if mask.shape[1:] != tuple(shape[1:3]):
            raise EvaluationInputError(
                f"truth {mask_path} is {mask.shape[2]}x{mask.shape[1]} pixels but image {image} is "
                f"{shape[2]}x{shape[1]}")
        if mask.shape[0] != shape[0]:
            raise EvaluationInputError(
                f"truth {mask_path} has {mask.shape[0]} page(s) but image {image} has {shape[0]} frame(s)")
        for i, page in enumerate(mask):
            frames.append(_frame(image, i if shape[0] > 1 else None, page, classes))
    return frames


def _frame(image: Path, frame: int | None, page: np.ndarray, classes: bool) -> Frame:
    if classes:
        cm = page.astype(np.int64)
        return Frame(image, frame, cm, [ev.class_objects(cm, k) for k in range(1, int(cm.max()) + 1)])
    return Frame(image, frame, (page > 0).astype(np.int64), [ev.relabel(page.astype(np.int64))])


# --- predictions ---------------------------------------------------------------------------
def _label_prediction(f: Frame) -> np.ndarray:
    """FOLDER's labels of one frame as a class map (unlabelled = background)."""
    from mia_core.label_store import LabelStoreError, label_path, load_labels

    own = label_path(f.image, frame=f.frame) if f.frame is not None else None
    path = own if own is not None and own.exists() else label_path(f.image)
    try:
        labels = load_labels(path)
    except LabelStoreError as exc:
        raise EvaluationInputError(str(exc)) from exc
    return np.maximum(labels.to_class_map(f.classes.shape), 0)


def _predict(model_dir: Path, frames: list[Frame], truth_top: int, args: argparse.Namespace,
             err: TextIO) -> tuple[list[np.ndarray], int]:
    """The model's class map of every frame, in memory; refuses class counts the truth cannot meet."""
    from mia_core.cli import disabled_plugins
    from mia_core.engine.checkpoint import ModelLoadError, load_model
    from mia_core.engine.predict import PredictionError, place_on_device, predict_frame
    from mia_core.plugins import load_plugins

    try:
        model, info = load_model(model_dir, load_plugins(disabled=disabled_plugins(args)))
    except ModelLoadError as exc:
        raise EvaluationInputError(str(exc)) from exc
    k = info.num_classes
    if not args.truth_classes and k != 2:
        raise EvaluationInputError(
            f"model {model_dir} predicts {k} classes ({', '.join(info.class_names)}) but instance truth masks "
            "hold one foreground class; give --truth-classes with class masks")
    if truth_top >= k:
        where = next(f for f in frames if int(f.classes.max()) == truth_top)
        raise EvaluationInputError(
            f"truth of {where.name} holds class {truth_top} but model {model_dir} predicts classes 0..{k - 1}")
    place_on_device(model)
    cache: dict[Path, np.ndarray] = {}
    preds = []
    for n, f in enumerate(frames):
        print(f"\rmia evaluate: predicting {n + 1}/{len(frames)} {f.name}", end="", file=err, flush=True)
        if f.image not in cache:
            cache = {f.image: read_image(f.image)}
        try:
            preds.append(np.maximum(predict_frame(model, cache[f.image][f.frame or 0], info, tta=args.tta,
                                                  source=f.name), 0))
        except PredictionError as exc:
            raise EvaluationInputError(str(exc)) from exc
    print("", file=err)
    return preds, k


# --- scores --------------------------------------------------------------------------------
@dataclass
class Pooled:
    pixels: ev.PixelCounts
    objects: ev.ObjectCounts
    fp_pixels: int = 0
    empty_pixels: int = 0
    empty_frames: int = 0


def _score(frames: list[Frame], preds: list[np.ndarray], k: int) -> tuple[list[dict[str, Any]], Pooled]:
    rows = []
    pooled: Pooled | None = None
    for f, p in zip(frames, preds):
        pix = ev.pixel_counts(f.classes, p, k)
        obj = ev.ObjectCounts(np.zeros(len(ev.THRESHOLDS), np.int64), 0, 0)
        for cls in range(1, k):
            truth_obj = f.objects[cls - 1] if cls - 1 < len(f.objects) else np.zeros_like(p, np.int32)
            obj = obj + ev.object_counts(truth_obj, ev.class_objects(p, cls))
        empty = not np.any(f.classes > 0)
        fp = int(np.count_nonzero(p > 0)) if empty else 0
        rows.append(_row(f.name, pix, obj, fp / p.size if empty else None))
        this = Pooled(pix, obj, fp, p.size if empty else 0, int(empty))
        pooled = this if pooled is None else Pooled(
            pooled.pixels + pix, pooled.objects + obj, pooled.fp_pixels + fp,
            pooled.empty_pixels + this.empty_pixels, pooled.empty_frames + this.empty_frames)
    assert pooled is not None
    fp_share = pooled.fp_pixels / pooled.empty_pixels if pooled.empty_pixels else None
    rows.append(_row("ALL", pooled.pixels, pooled.objects, fp_share))
    return rows, pooled


def _row(name: str, pix: ev.PixelCounts, obj: ev.ObjectCounts, fp_share: float | None) -> dict[str, Any]:
    row: dict[str, Any] = {"image": name}
    iou, dice = pix.iou(), pix.dice()
    fg = pix.intersection[1:].sum(), pix.predicted[1:].sum(), pix.truth[1:].sum()
    union = fg[1] + fg[2] - fg[0]
    row["fg_iou"] = fg[0] / union if union else float("nan")
    for c in range(1, len(iou)):
        row[f"iou_{c}"], row[f"dice_{c}"] = iou[c], dice[c]
    row["true_objects"], row["pred_objects"] = obj.n_true, obj.n_pred
    row["precision"], row["recall"], row["f1"] = obj.precision()[0], obj.recall()[0], obj.f1()[0]
    ap = obj.average_precision()
    row["ap50"], row["ap75"], row["map"] = ap[0], ap[ev.THRESHOLDS.index(0.75)], float(np.mean(ap))
    row["fp_pixels"] = float("nan") if fp_share is None else fp_share
    return row


def _fmt(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return "-" if np.isnan(v) else f"{v:.4f}"
    return str(v)


def _print_table(rows: list[dict[str, Any]], out: TextIO) -> None:
    keys = list(rows[0])
    cells = [keys] + [[_fmt(r[k]) for k in keys] for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(keys))]
    for line in cells:
        print("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths))), file=out)


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    from mia_core.atomic import atomic_path

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    for r in rows:
        writer.writerow({k: _fmt(v) if isinstance(v, float) else v for k, v in r.items()})
    try:
        with atomic_path(path) as tmp:
            Path(tmp).write_text(buf.getvalue())
    except OSError as exc:
        raise EvaluationInputError(f"cannot write --csv {path}: {exc.strerror or exc}") from exc


def _write_labels(frames: list[Frame], preds: list[np.ndarray], force: bool) -> None:
    """--write: the predictions as label files (foreground contours), refusing to replace without --force."""
    from mia_core.label_store import label_path, save_labels
    from mia_core.raster import labels_from_class_map

    targets = [label_path(f.image, frame=f.frame) for f in frames]
    existing = [t for t in targets if t.exists()]
    if existing and not force:
        raise EvaluationInputError(f"{len(existing)} label file(s) exist, e.g. {existing[0]}; --force replaces them")
    for t, p in zip(targets, preds):
        save_labels(t, labels_from_class_map(p, ignore=(0,)))


def _summary(p: Pooled, n_frames: int, n_images: int) -> str:
    iou = p.pixels
    inter, union = iou.intersection[1:].sum(), iou.predicted[1:].sum() + iou.truth[1:].sum() - iou.intersection[1:].sum()
    ap = p.objects.average_precision()
    fp = (f"; false-positive pixels on {p.empty_frames} empty frame(s) {100 * p.fp_pixels / p.empty_pixels:.3f} %"
          if p.empty_pixels else "")
    return (f"evaluated {n_frames} frame(s) of {n_images} image(s): foreground IoU "
            f"{inter / union if union else float('nan'):.4f}, object F1@0.5 {p.objects.f1()[0]:.4f} "
            f"({p.objects.n_true} true, {p.objects.n_pred} predicted), AP@0.5 {ap[0]:.4f}, "
            f"mAP@0.5:0.95 {np.mean(ap):.4f}{fp}")
