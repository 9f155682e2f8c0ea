"""Masks <-> label files: the work of ``mia labels import-masks`` / ``export-masks``.

Shared by the command and the app (File > Import masks… / Export masks…). ``args`` is any object
with the command's option names as attributes (an ``argparse.Namespace`` from the command's
parser); messages name the command's options, as both the command and the app's dialog show them.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from mia_core.atomic import atomic_path
from mia_core.images import ImageReadError, image_shape, list_images, read_image
from mia_core.folder_lock import FolderBusyError, label_folder_lock
from mia_core.label_clashes import header_frames, label_clashes
from mia_core.label_store import LabelFileError, LabelStoreError, label_path, load_labels, save_labels
from mia_core.labels import MAX_CLASS_ID, LabelSet, all_background
from mia_core.raster import draw_contour, labels_from_class_map, labels_from_instance_map

#: Largest value a uint16 mask can hold.
_MASK_MAX = int(np.iinfo(np.uint16).max)
#: Largest object number a label file holds.
_OBJECT_MAX = int(np.iinfo(np.int32).max)


class MaskError(ValueError):
    """A mask that cannot become labels (wrong shape, colours, fractional values ...)."""


@dataclass
class _Tally:
    """What happened to each image, for the summary line and the exit code."""

    done: int = 0
    contours: int = 0
    skipped: list[str] = field(default_factory=list)  # existing files left alone
    missing: list[str] = field(default_factory=list)  # nothing to convert
    failed: list[str] = field(default_factory=list)
    # Empty masks or frames, decided once every mask is read: (label file, (height, width)).
    empty: list[tuple[Path, tuple[int, int]]] = field(default_factory=list)


# --- import ------------------------------------------------------------------------------------
def run_import(args: Any, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Write a label file for every image that has a mask; 1 when any failed or none was imported,
    2 on bad usage or when another command is writing the folder."""
    out, err = out or sys.stdout, err or sys.stderr
    folder, mask_dir = Path(args.folder), Path(args.masks)
    if not mask_dir.is_dir():
        print(f"mia labels import-masks: --masks folder {mask_dir} not found", file=err)
        return 2
    if args.instances and args.unlabelled != 0:
        print("mia labels import-masks: --unlabelled applies to class masks; instance masks use 0 "
              "for 'no object'", file=err)
        return 2
    class_map = getattr(args, "class_map", None)
    if class_map is not None and (args.instances or args.class_id is not None):
        print("mia labels import-masks: --class-map applies to class masks; drop --instances or "
              "--class-id", file=err)
        return 2
    if class_map is not None and args.unlabelled in class_map:
        print(f"mia labels import-masks: --class-map maps {args.unlabelled}, the --unlabelled value; "
              f"choose another --unlabelled (e.g. --unlabelled {_MASK_MAX})", file=err)
        return 2
    images = _images_apart_from(folder, mask_dir, "import-masks", "--masks",
                                "the masks must be in their own folder", err)
    if images is None:
        return 2
    try:
        masks = list_images(mask_dir)
    except ImageReadError as exc:
        print(f"mia labels import-masks: {exc}", file=err)
        return 2
    by_stem: dict[str, list[Path]] = {}
    for mask in masks:
        by_stem.setdefault(mask.stem, []).append(mask)
    try:
        with label_folder_lock(folder, "mia labels import-masks") as lock:
            if not lock.held:
                print(f"mia labels import-masks: {lock.note}; do not run another batch writer on "
                      f"{folder} meanwhile", file=err)
            return _import_all(images, by_stem, args, folder, mask_dir, out, err)
    except FolderBusyError as exc:
        print(f"mia labels import-masks: {exc}", file=err)
        return 2


def _import_all(images: list[Path], by_stem: dict[str, list[Path]], args: Any,
                folder: Path, mask_dir: Path, out: TextIO, err: TextIO) -> int:
    """The import itself, under the folder's write lock."""
    tally = _Tally()
    clashes = label_clashes(images, header_frames)
    for image in images:
        if image in clashes:
            _fail(tally, err, image, clashes[image])
            continue
        candidates = by_stem.get(image.stem + args.mask_suffix, [])
        if not candidates:
            tally.missing.append(image.name)
            print(f"{image.name}: no mask {image.stem + args.mask_suffix}.* in {mask_dir}", file=out)
            continue
        if len(candidates) > 1:
            names = ", ".join(m.name for m in candidates)
            _fail(tally, err, image, f"several masks match ({names}); keep one")
            continue
        try:
            _import_one(image, candidates[0], args, tally, out)
        except (ImageReadError, MaskError, LabelStoreError) as exc:
            _fail(tally, err, image, str(exc))
    empty_note = _write_empty(tally, args, err)
    print(
        f"imported {tally.done} masks ({tally.contours} contours) into {folder / 'Segmentation_labels'}"
        + empty_note + _summary_tail(tally, "label files exist"),
        file=out,
    )
    if tally.done == 0 and tally.missing and not tally.skipped:
        print(f"mia labels import-masks: no mask in {mask_dir} matches an image of {folder}"
              + _suffix_hint(images, by_stem, args.mask_suffix), file=err)
    return 1 if tally.failed or tally.done == 0 else 0


def _suffix_hint(images: list[Path], by_stem: dict[str, list[Path]], given: str) -> str:
    """When mask names are image names plus some text, say which --mask-suffix would match."""
    found: dict[str, int] = {}
    for image in images:
        for stem in by_stem:
            if stem != image.stem and stem.startswith(image.stem):
                suffix = stem[len(image.stem):]
                found[suffix] = found.get(suffix, 0) + 1
    if not found:
        return ""
    suffix = max(found, key=lambda k: found[k])
    now = f" (given: --mask-suffix {given!r})" if given else ""
    return f"; the masks are named like the images plus {suffix!r}: try --mask-suffix {suffix}{now}"


def _write_empty(tally: _Tally, args: Any, err: TextIO) -> str:
    """Empty masks become background labels when other masks hold labels; the summary's note."""
    if not tally.empty:
        return ""
    negatives = tally.contours > 0 and not getattr(args, "skip_empty", False)
    written = 0
    for target, shape in tally.empty:
        try:
            save_labels(target, all_background(shape) if negatives else LabelSet(), mia_format=args.mia_format)
            written += 1
        except LabelStoreError as exc:
            tally.failed.append(target.name)
            print(f"{target.name}: FAILED: {exc}", file=err)
    count = f"{len(tally.empty)} empty mask(s)/frame(s)"
    if negatives:
        return (f"; {count} written as background (class 0 over the whole image; --skip-empty leaves "
                "them unlabelled)" if written else "")
    why = "--skip-empty" if tally.contours > 0 else "no mask holds labels"
    return f"; {count} left without labels ({why})"


def _import_one(image: Path, mask_path: Path, args: Any, tally: _Tally, out: TextIO) -> None:
    """Convert one mask (all its pages) into the image's label file(s)."""
    shape = image_shape(image)
    frames, height, width = shape[0], shape[1], shape[2]
    mask = read_mask(mask_path)
    if mask.shape[1:] != (height, width):
        raise MaskError(
            f"mask {mask_path} is {mask.shape[2]}x{mask.shape[1]} pixels but image {image} is "
            f"{width}x{height}"
        )
    if mask.shape[0] == frames and frames > 1:
        targets = [label_path(image, frame=i) for i in range(frames)]
    elif mask.shape[0] == 1:
        targets = [label_path(image)]  # a single image, or a label shared by the whole stack
    else:
        raise MaskError(f"mask {mask_path} has {mask.shape[0]} pages but image {image} has {frames} frames")
    existing = [t for t in targets if t.exists()]
    if existing and not args.force:
        tally.skipped.append(image.name)
        print(f"{image.name}: skipped, {_names(existing)} exists (--force replaces it)", file=out)
        return
    classes = _class_lookup(mask, mask_path, args)
    label_sets = [_labels_from_mask(page, args, classes) for page in mask]
    empty = [(t, (height, width)) for t, ls in zip(targets, label_sets) if ls.is_empty]
    for target, labels in zip(targets, label_sets):
        if not labels.is_empty:
            save_labels(target, labels, mia_format=args.mia_format)
    tally.empty += empty  # background or nothing, decided once every mask is read
    count = sum(len(ls) for ls in label_sets)
    empties = sum(ls.is_empty for ls in label_sets)
    tally.done += 1
    tally.contours += count
    where = targets[0].name if len(targets) == 1 else f"{targets[0].name} .. {targets[-1].name}"
    if empties:
        what = "empty mask" if len(targets) == 1 else f"{empties} empty frame(s)"
        note = f" ({what}: see the summary)"
    else:
        note = ""
    print(f"{image.name}: {mask_path.name} -> {where}: {count} contours{note}", file=out)


def _class_lookup(mask: np.ndarray, mask_path: Path, args: Any) -> dict[int, int] | None:
    """Class of each labelled value of a class mask, or None when values are classes as they are.

    Checked for the whole mask before anything is written, so no class a class map cannot hold
    reaches a label file.
    """
    if args.instances:
        if mask.size and int(mask.max()) > _OBJECT_MAX:
            raise MaskError(f"mask {mask_path} holds object number {int(mask.max())}, above the largest "
                            f"mia handles ({_OBJECT_MAX})")
        return None
    if args.class_id is not None:
        return None
    values = [int(v) for v in np.unique(mask) if int(v) != args.unlabelled]
    class_map = getattr(args, "class_map", None)
    if class_map is not None:
        unmapped = [v for v in values if v not in class_map]
        if unmapped:
            shown = ", ".join(str(v) for v in unmapped[:5]) + (" ..." if len(unmapped) > 5 else "")
            raise MaskError(f"mask {mask_path} holds value(s) {shown} that --class-map does not map; "
                            f"add them, e.g. --class-map {unmapped[0]}=CLASS")
        return {v: class_map[v] for v in values}
    top = int(np.iinfo(mask.dtype).max) if np.issubdtype(mask.dtype, np.unsignedinteger) else None
    if top is not None and top > 1 and values == [top] and args.unlabelled == 0:
        return {top: 1}  # a binary 0/max mask: the foreground is class 1
    if values and values[-1] > MAX_CLASS_ID:
        raise MaskError(
            f"mask {mask_path} holds value {values[-1]}, above the largest class id mia handles "
            f"({MAX_CLASS_ID}); map mask values to classes with --class-map, e.g. "
            f"--class-map {values[-1]}=1"
        )
    return None


def _labels_from_mask(page: np.ndarray, args: Any, classes: dict[int, int] | None = None) -> LabelSet:
    """One mask page as a label set, following the class/instance options."""
    if args.instances:
        return labels_from_instance_map(page, class_of=1 if args.class_id is None else args.class_id)
    if args.class_id is not None:
        binary = np.where(page == args.unlabelled, -1, args.class_id)
        return labels_from_class_map(binary, ignore=(-1,))
    if classes is not None:
        mapped = np.full(page.shape, -1, dtype=np.int32)
        for value, cls in classes.items():
            mapped[page == value] = cls
        return labels_from_class_map(mapped, ignore=(-1,))
    return labels_from_class_map(page, ignore=(args.unlabelled,))


def read_mask(path: Path) -> np.ndarray:
    """A mask as (pages, H, W) of integers; indexed PNGs give their palette indices."""
    data = read_image(path)
    if path.suffix.lower() == ".png":
        indices = _palette_indices(path)
        if indices is not None:
            data = indices[np.newaxis]
    if data.ndim == 4:
        if not np.array_equal(data, np.broadcast_to(data[..., :1], data.shape)):
            raise MaskError(f"mask {path} is a colour image; a mask needs one value per pixel")
        data = data[..., 0]
    if data.dtype == np.bool_:
        return data.astype(np.uint8)
    if np.issubdtype(data.dtype, np.floating):
        if not np.all(np.isfinite(data)) or not np.array_equal(data, np.round(data)):
            raise MaskError(f"mask {path} holds fractional or NaN values; a mask needs whole numbers")
        data = data.astype(np.int64)
    if data.size and data.min() < 0:
        raise MaskError(f"mask {path} holds negative values ({int(data.min())})")
    return data


def _palette_indices(path: Path) -> np.ndarray | None:
    """Palette indices of an indexed PNG (OpenCV would expand them to colours), else None."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            if im.mode != "P":
                return None
            return np.asarray(im)
    except Exception as exc:  # noqa: BLE001 - read_image already accepted the file
        raise MaskError(f"mask {path}: cannot read its palette indices ({exc})") from exc


# --- export ------------------------------------------------------------------------------------
def run_export(args: Any, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Write a mask for every labelled image; 1 when any image failed, 2 on bad usage."""
    out, err = out or sys.stdout, err or sys.stderr
    folder, out_dir = Path(args.folder), Path(args.out)
    images = _images_apart_from(folder, out_dir, "export-masks", "--out", "masks would replace images there", err)
    if images is None:
        return 2
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"mia labels export-masks: cannot create {out_dir}: {exc.strerror or exc}", file=err)
        return 2
    tally = _Tally()
    written: dict[str, str] = {}
    clashes = label_clashes(images, header_frames)
    for image in images:
        if image in clashes:
            _fail(tally, err, image, clashes[image])
            continue
        target = out_dir / f"{image.stem}.tif"
        if image.stem in written:
            _fail(tally, err, image, f"{target} is already written for {written[image.stem]} (same stem)")
            continue
        try:
            if _export_one(image, target, args, tally, out):
                written[image.stem] = image.name
        except (ImageReadError, LabelFileError, MaskError, OSError) as exc:
            _fail(tally, err, image, str(exc))
    print(f"exported {tally.done} masks ({tally.contours} contours) to {out_dir}"
          + _summary_tail(tally, "mask files exist"), file=out)
    return 1 if tally.failed else 0


def _export_one(image: Path, target: Path, args: Any, tally: _Tally, out: TextIO) -> bool:
    """Write one image's mask; False when there was nothing to write or the file was kept."""
    shape = image_shape(image)
    frames, height, width = shape[0], shape[1], shape[2]
    label_sets = _frame_labels(image, frames)
    if all(ls.is_empty for ls in label_sets):
        tally.missing.append(image.name)
        print(f"{image.name}: no labels, skipped", file=out)
        return False
    if target.exists() and not args.force:
        tally.skipped.append(image.name)
        print(f"{image.name}: skipped, {target} exists (--force replaces it)", file=out)
        return False
    encode = _instance_mask if args.instances else _class_mask
    pages = np.stack([encode(ls, (height, width), args.unlabelled, image) for ls in label_sets])
    _write_tiff(target, pages if frames > 1 else pages[0])
    count = sum(len(ls) for ls in label_sets)
    tally.done += 1
    tally.contours += count
    pages_text = f", {frames} pages" if frames > 1 else ""
    print(f"{image.name} -> {target.name}: {count} contours{pages_text}", file=out)
    return True


def _frame_labels(image: Path, frames: int) -> list[LabelSet]:
    """Each frame's labels: its own file, else the file shared by the stack (single images: that)."""
    shared = load_labels(label_path(image))
    if frames == 1:
        return [shared]
    out = []
    for i in range(frames):
        own = label_path(image, frame=i)
        out.append(load_labels(own) if own.exists() else shared)
    return out


def _class_mask(labels: LabelSet, shape: tuple[int, int], unlabelled: int, image: Path) -> np.ndarray:
    """uint16 class values, ``unlabelled`` where nothing is labelled."""
    classes = labels.class_ids()
    if classes and (classes[0] < 0 or classes[-1] > _MASK_MAX):
        raise MaskError(f"labels of {image} hold class ids outside 0..{_MASK_MAX}")
    class_map = labels.to_class_map(shape)
    empty = class_map < 0
    if unlabelled in classes and empty.any():
        raise MaskError(
            f"labels of {image} have class {unlabelled} contours and unlabelled pixels, which would "
            f"share mask value {unlabelled}; choose --unlabelled with a value no class uses (e.g. {_MASK_MAX})"
        )
    return np.where(empty, unlabelled, class_map).astype(np.uint16)


def _instance_mask(labels: LabelSet, shape: tuple[int, int], unlabelled: int, image: Path) -> np.ndarray:
    """uint16 object numbers; contours without one are numbered after the highest one in use."""
    mask = np.zeros(shape, dtype=np.int64)
    next_free = max((c.object_id for c in labels.contours), default=0) + 1
    for contour in labels.contours:
        value = contour.object_id
        if value <= 0:
            value, next_free = next_free, next_free + 1
        draw_contour(mask, contour, value, empty=0)
    if mask.max(initial=0) > _MASK_MAX:
        raise MaskError(f"labels of {image} need object numbers above {_MASK_MAX}")
    return mask.astype(np.uint16)


def _write_tiff(path: Path, data: np.ndarray) -> None:
    """Write a mask TIFF through a temporary file and a rename, so a failure leaves no half file."""
    import tifffile

    with atomic_path(path) as tmp:
        tifffile.imwrite(tmp, data, photometric="minisblack", compression="zlib")


# --- shared ------------------------------------------------------------------------------------
def _images_apart_from(folder: Path, other: Path, command: str, option: str, why: str,
                       err: TextIO) -> list[Path] | None:
    """Both commands' first check: the folder's images, or None once ``err`` says it is unreadable or is ``other``."""
    try:
        images = list_images(folder)
    except ImageReadError as exc:
        print(f"mia labels {command}: {exc}", file=err)
        return None
    if _same_folder(folder, other):
        print(f"mia labels {command}: {option} {other} is the image folder; {why}", file=err)
        return None
    return images


def _same_folder(a: Path, b: Path) -> bool:
    """True when two paths name the same existing folder."""
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _names(paths: list[Path]) -> str:
    """A short listing of file names."""
    if len(paths) <= 3:
        return ", ".join(p.name for p in paths)
    return f"{paths[0].name} and {len(paths) - 1} more"


def _fail(tally: _Tally, err: TextIO, image: Path, reason: str) -> None:
    """Record and report one image that could not be converted."""
    tally.failed.append(image.name)
    print(f"{image.name}: FAILED: {reason}", file=err)


def _summary_tail(tally: _Tally, skip_reason: str) -> str:
    """The rest of the summary line: skipped, missing and failed images."""
    parts = []
    if tally.skipped:
        parts.append(f"{len(tally.skipped)} skipped ({skip_reason}; --force replaces them): "
                     + ", ".join(tally.skipped))
    if tally.missing:
        parts.append(f"{len(tally.missing)} without anything to convert")
    if tally.failed:
        parts.append(f"{len(tally.failed)} failed: " + ", ".join(tally.failed))
    return ("; " + "; ".join(parts)) if parts else ""
