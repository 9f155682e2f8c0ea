"""Scoring labels or a model's predictions against ground truth: what ``mia evaluate`` prints and the
training window's held-out score (kept out of the command module, which the viewer must not import)."""

from __future__ import annotations

import argparse
import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from mia_core import evaluation as ev
from mia_core.images import image_shape, list_images, read_image


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


class EvaluationInputError(ValueError):
    """Inputs that cannot be scored; the message names the file or option."""


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


def _truth_label_frames(folder: Path, truth: Path) -> list[Frame]:
    """Every image of ``folder`` whose namesake in ``truth`` has mia labels: its contours are the truth."""
    from mia_core.label_store import LabelStoreError, label_path
    from mia_core.results import frame_labels

    images = list_images(folder)
    if not images:
        raise EvaluationInputError(f"no images in {folder}")
    if truth.resolve() == folder.resolve():
        raise EvaluationInputError(f"--truth-labels {truth} is FOLDER itself: give the folder of the ground truth")
    others = {m.stem: m for m in list_images(truth)}
    frames: list[Frame] = []
    for image in images:
        other = others.get(image.stem)
        if other is None:
            continue
        shape, other_shape = image_shape(image), image_shape(other)
        n = other_shape[0]
        if not any(label_path(other, i if n > 1 else None).exists() for i in range(n)) and \
                not label_path(other).exists():
            continue
        if tuple(other_shape[:3]) != tuple(shape[:3]):
            raise EvaluationInputError(
                f"truth image {other} is {other_shape[2]}x{other_shape[1]} pixels, {other_shape[0]} frame(s), "
                f"but image {image} is {shape[2]}x{shape[1]}, {shape[0]} frame(s)")
        try:
            labels = frame_labels(other, n)
        except LabelStoreError as exc:
            raise EvaluationInputError(str(exc)) from exc
        for i, lab in enumerate(labels):
            frames.append(_labels_frame(image, i if n > 1 else None, lab, (shape[1], shape[2])))
    if not frames:
        raise EvaluationInputError(
            f"no image in --truth-labels {truth} is named like an image of {folder} and has labels "
            f"(e.g. {images[0].name} with {truth / 'Segmentation_labels' / (images[0].stem + '.npz')})")
    return frames


def _labels_frame(image: Path, frame: int | None, labels: Any, shape: tuple[int, int]) -> Frame:
    """Truth of one frame from its labels: unlabelled is background unless class 0 was drawn."""
    cm = labels.to_class_map(shape).astype(np.int64)
    if 0 not in labels.class_ids():
        cm = np.maximum(cm, 0)
    top = int(cm.max(initial=0))
    return Frame(image, frame, cm, [_contour_objects(labels, k, shape) for k in range(1, top + 1)])


def _contour_objects(labels: Any, class_id: int, shape: tuple[int, int]) -> np.ndarray:
    """Instance map of one class of a label set: each contour one object."""
    from mia_core.labels import LabelSet

    return LabelSet([c for c in labels.contours if c.class_id == class_id], shape).to_instance_map(shape)


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


def _predict(model_dir: Path, frames: list[Frame], truth_top: int, instances: bool, args: argparse.Namespace,
             err: TextIO, registry: Any = None) -> tuple[list[np.ndarray], int, Any]:
    """The model's class map of every frame, in memory, its class count and ModelInfo; refuses class
    counts the truth cannot meet."""
    from mia_core.cli import disabled_plugins
    from mia_core.engine.checkpoint import ModelLoadError, load_model
    from mia_core.engine.predict import PredictionError, place_on_device, predict_frame
    from mia_core.plugins import load_plugins

    try:
        model, info = load_model(model_dir, registry or load_plugins(disabled=disabled_plugins(args)))
    except ModelLoadError as exc:
        raise EvaluationInputError(str(exc)) from exc
    k = info.num_classes
    if instances and k != 2:
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
    return preds, k, info


def _postprocessing(args: argparse.Namespace, info: Any, num_classes: int, registry: Any = None) -> Any:
    """(registry, per-class plan) of the predict-style postprocessing, or None when there is none. With
    a model's ``info`` it is what ``mia predict`` would apply (the model's defaults, the options in their
    place); without (FOLDER's labels) only what the options ask, in every foreground class."""
    from mia_core.object_scale import model_postprocessing, resolve_postprocessing
    from mia_core.results import ExportError, check_postprocessors

    given = {k: getattr(args, k, None) for k in ("separate", "min_size", "min_distance")}
    if info is not None:
        plan = model_postprocessing(info, **given)
    else:
        plan = resolve_postprocessing({}, num_classes, separate=bool(given["separate"]),
                                      min_size=given["min_size"] or 0, min_distance=given["min_distance"])
    if not plan:
        return None
    if registry is None:
        from mia_core.cli import disabled_plugins
        from mia_core.plugins import load_plugins

        registry = load_plugins(disabled=disabled_plugins(args))
    try:
        check_postprocessors(registry, plan)
    except ExportError as exc:  # a disabled or missing postprocessor plugin
        raise EvaluationInputError(str(exc)) from exc
    return registry, plan


def _postprocessed(pred: np.ndarray, post: Any, k: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """A class map after postprocessing, and its objects per foreground class (each contour one)."""
    from mia_core.raster import labels_from_class_map
    from mia_core.results import postprocess_by_class

    registry, plan = post
    labels = postprocess_by_class(registry, labels_from_class_map(pred, ignore=(0, -1)), plan)
    shape = pred.shape
    return np.maximum(labels.to_class_map(shape), 0), [_contour_objects(labels, c, shape) for c in range(1, k)]


# --- scores --------------------------------------------------------------------------------
@dataclass
class Pooled:
    pixels: ev.PixelCounts
    objects: ev.ObjectCounts
    fp_pixels: int = 0
    empty_pixels: int = 0
    empty_frames: int = 0


def _score(frames: list[Frame], preds: list[np.ndarray], k: int,
           pred_objects: list[list[np.ndarray]] | None = None) -> tuple[list[dict[str, Any]], Pooled]:
    rows = []
    pooled: Pooled | None = None
    for n, (f, p) in enumerate(zip(frames, preds)):
        pix = ev.pixel_counts(f.classes, p, k)
        obj = ev.ObjectCounts(np.zeros(len(ev.THRESHOLDS), np.int64), 0, 0)
        for cls in range(1, k):
            truth_obj = f.objects[cls - 1] if cls - 1 < len(f.objects) else np.zeros_like(p, np.int32)
            found = ev.class_objects(p, cls) if pred_objects is None else pred_objects[n][cls - 1]
            obj = obj + ev.object_counts(truth_obj, found)
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


def held_out_score(model_dir: Path, folder: Path, truth: Path, trained: set[Path], registry: Any = None) -> str:
    """The app's held-out score: the model on FOLDER's images with a mask in ``truth`` that did not
    train (``trained`` holds the training image paths); one summary line. EvaluationInputError says
    why there is nothing to score."""
    frames = [f for f in _truth_frames(folder, truth, "", False) if f.image.resolve() not in trained]
    if not frames:
        raise EvaluationInputError(
            f"every image of {folder} with a mask in {truth} was trained on: a held-out score needs masks of "
            "images that did not train (the validation images, or images without labels)")
    args = argparse.Namespace(tta=False, disable=[])
    preds, k, info = _predict(model_dir, frames, max(int(f.classes.max()) for f in frames), True, args,
                              io.StringIO(), registry)
    post = _postprocessing(args, info, k, registry)  # the model's defaults, as mia predict applies them
    objects = None if post is None else [_postprocessed(p, post, k) for p in preds]
    if objects is not None:
        preds = [o[0] for o in objects]
    _, pooled = _score(frames, preds, k, None if objects is None else [o[1] for o in objects])
    return _summary(pooled, len(frames), len({f.image for f in frames}))
