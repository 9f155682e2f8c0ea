"""Labelled training images: read, normalise, split by image, and weight every pixel.

Labelled pixels train, unlabelled ones get weight 0 — unless an image (or frame) has no background
(class 0) contours, then its unlabelled pixels count as background, as MIA does.
"""

from __future__ import annotations

import glob
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mia_core.engine.border_weights import separation_weights
from mia_core.engine.config import TrainConfig
from mia_core.object_scale import ClassScale, measure_scales, touching_pixels

IGNORED = -1  # target value of a pixel that does not train


class TrainingDataError(ValueError):
    """The images or labels cannot make a training set; the message says which and why."""


@dataclass
class LabelledImage:
    """One labelled image or stack frame, ready for patch sampling."""

    path: Path
    frame: int | None  # None for a single image or a shared stack label
    image: np.ndarray  # (H, W, C) float32, normalised
    target: np.ndarray  # (H, W) int16 class id, IGNORED where the pixel does not train
    instances: np.ndarray  # (H, W) int32 foreground object number, 0 elsewhere
    weight: np.ndarray = field(default=None)  # type: ignore[assignment]  # (H, W) float32, set by weigh()

    @property
    def name(self) -> str:
        """How messages name this sample."""
        return self.path.name if self.frame is None else f"{self.path.name} (frame {self.frame})"


@dataclass
class TrainingData:
    """The training and validation samples and what the model must be built for."""

    train: list[LabelledImage]
    val: list[LabelledImage]
    num_classes: int
    in_channels: int
    class_weights: np.ndarray  # (num_classes,) per-class pixel weight
    val_is_train: bool  # no held-out images: validation runs on the training images
    val_rows: int = 0  # a single image: validation holds out its bottom val_rows rows (never trained on)
    objects: dict[int, ClassScale] = field(default_factory=dict)  # every labelled image's objects per class


def normalise(frame: np.ndarray, method: str = "per-image", encoder: dict[str, Any] | None = None) -> np.ndarray:
    """Scale one frame to float32 (H, W, C) by its own statistics, so 8- and 16-bit images agree.

    The statistics come from the finite pixels only; NaN and +/-inf pixels become 0 (the mean for
    per-image, the minimum for min-max), so one bad pixel cannot turn the whole image into NaN.
    ``"encoder"`` prepares input for a pretrained encoder: 8-bit values as they are (other images
    stretched to 0..255 between their minimum and maximum), then ``(x - mean) / std`` with the
    encoder's ``encoder`` normalisation (channel order flipped for BGR; a grey image uses the channel
    averages, matching the summed RGB filters of the first convolution).
    """
    if method == "encoder":
        return _encoder_normalise(frame, encoder)
    x = np.asarray(frame, dtype=np.float32)
    if x.ndim == 2:
        x = x[:, :, None]
    if x.ndim != 3:
        raise ValueError(f"a frame must be (H, W) or (H, W, C), got shape {frame.shape}")
    offset, scale = normalisation_stats(x, method)
    out = (x - offset) / scale
    if not np.issubdtype(np.asarray(frame).dtype, np.integer):
        out[~np.isfinite(out)] = 0.0
    return out


def normalisation_stats(x: np.ndarray, method: str = "per-image") -> tuple[np.ndarray, np.ndarray]:
    """Per-channel (offset, scale), shaped (1, 1, C) float32, over the finite pixels of (H, W, C) ``x``."""
    if method not in ("per-image", "min-max"):
        raise ValueError(f"unknown normalisation {method!r}")
    channels = x.shape[-1]
    offset = np.zeros((1, 1, channels), np.float32)
    scale = np.ones((1, 1, channels), np.float32)
    for c in range(channels):
        values = x[:, :, c]
        if np.issubdtype(values.dtype, np.floating) and not np.isfinite(values).all():
            values = values[np.isfinite(values)]
        if values.size == 0:
            continue  # nothing finite: every pixel becomes 0
        if method == "per-image":
            offset[..., c] = values.mean(dtype=np.float64)
            scale[..., c] = max(float(values.std(dtype=np.float64)), 1e-6)
        else:
            lo = float(values.min())
            offset[..., c] = lo
            scale[..., c] = max(float(values.max()) - lo, 1e-6)
    return offset, scale


def _encoder_normalise(frame: np.ndarray, encoder: dict[str, Any] | None) -> np.ndarray:
    """The ``"encoder"`` normalisation of :func:`normalise`."""
    if not encoder:
        raise ValueError("the 'encoder' normalisation needs the encoder's mean and std")
    raw = np.asarray(frame)
    x = raw.astype(np.float32)
    if x.ndim == 2:
        x = x[:, :, None]
    if raw.dtype != np.uint8:
        finite = x[np.isfinite(x)]  # NaN / inf pixels neither set the range nor survive it
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
        x = (x - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(x)
        x[~np.isfinite(x)] = 0.0
    mean = np.asarray(encoder["mean"], np.float32)
    std = np.asarray(encoder["std"], np.float32)
    if x.shape[2] == 3 and encoder.get("order", "RGB") == "BGR":
        x = x[:, :, ::-1]
    if x.shape[2] != mean.size:
        mean, std = np.full(x.shape[2], mean.mean(), np.float32), np.full(x.shape[2], std.mean(), np.float32)
    return ((x - mean) / std).astype(np.float32)


def frame_channels(frame: np.ndarray) -> int:
    """Number of channels of a (H, W) or (H, W, C) frame."""
    return 1 if frame.ndim == 2 else int(frame.shape[-1])


def load_labelled_images(folder: str | Path, normalisation: str = "per-image",
                         encoder: dict[str, Any] | None = None) -> list[LabelledImage]:
    """Every labelled image (or stack frame) in ``folder``; images without labels are skipped."""
    from mia_core.images import ImageReadError, image_shape, list_images, read_image
    from mia_core.label_store import LabelFileError

    root = Path(folder)
    try:
        paths = list_images(root)
    except ImageReadError as exc:
        raise TrainingDataError(str(exc)) from exc
    from mia_core.label_clashes import header_frames, label_clashes

    out: list[LabelledImage] = []
    clashes = label_clashes(paths, header_frames)
    for path in paths:
        if path in clashes:  # whose labels a shared file holds cannot be told: train on neither
            if _has_label_files(path):
                logging.getLogger("mia").warning("%s: skipped, %s", path.name, clashes[path])
            continue
        if not _has_label_files(path):
            continue  # unlabelled images are never read, so an unreadable one does not matter
        try:
            frames = int(image_shape(path)[0])
            labelled = _labels_of(path, frames)
            if not labelled:
                continue
            pixels = read_image(path)
        except LabelFileError as exc:  # one bad label file does not stop training on the others
            logging.getLogger("mia").warning("%s: skipped, %s", path.name, exc)
            continue
        except ImageReadError as exc:
            raise TrainingDataError(str(exc)) from exc
        for frame, labels in labelled:
            for index in range(frames) if frame is None and frames > 1 else [frame or 0]:
                sample_frame = index if frames > 1 else None
                out.append(_sample(path, sample_frame, pixels[index], labels, normalisation, encoder))
    return out


def _has_label_files(path: Path) -> bool:
    """True when a label file exists for the image or any of its frames."""
    from mia_core.label_store import label_path

    single = label_path(path)
    return single.exists() or any(single.parent.glob(f"{glob.escape(path.stem)}_frame[0-9][0-9][0-9][0-9].npz"))


def _labels_of(path: Path, frames: int) -> list[tuple[int | None, object]]:
    """(frame, LabelSet) pairs with labels; frame None = one label file for the whole image or stack."""
    from mia_core.label_store import label_path, load_labels

    found: list[tuple[int | None, object]] = []
    if frames > 1:
        for f in range(frames):
            labels = load_labels(label_path(path, f))
            if not labels.is_empty:
                found.append((f, labels))
        if found:
            return found
    labels = load_labels(label_path(path))
    return [(None, labels)] if not labels.is_empty else []


def _sample(path: Path, frame: int | None, pixels: np.ndarray, labels, normalisation: str,
            encoder: dict[str, Any] | None = None) -> LabelledImage:
    """Build one sample: normalised image, training targets and foreground objects."""
    shape = pixels.shape[:2]
    target = labels.to_class_map(shape).astype(np.int16)
    if not np.any(target == 0):
        target[target == IGNORED] = 0  # no background drawn: everything unlabelled is background
    instances = labels.to_instance_map(shape)
    instances[target <= 0] = 0
    return LabelledImage(path, frame, normalise(pixels, normalisation, encoder), target, instances)


def split_by_image(
    samples: list[LabelledImage], fraction: float, seed: int = 0
) -> tuple[list[LabelledImage], list[LabelledImage]]:
    """Hold out whole images (all frames of a stack together) for validation."""
    paths = sorted({s.path for s in samples})
    n_val = int(round(fraction * len(paths)))
    if fraction > 0 and len(paths) >= 2:
        n_val = min(max(n_val, 1), len(paths) - 1)
    else:
        n_val = 0
    order = np.random.default_rng(seed).permutation(len(paths))
    held = {paths[i] for i in order[:n_val]}
    return [s for s in samples if s.path not in held], [s for s in samples if s.path in held]


def split_by_region(samples: list[LabelledImage], fraction: float) -> tuple[list[LabelledImage], list[LabelledImage], int]:
    """One image: hold out its bottom rows for validation; those rows do not train (target ignored)."""
    train, val = [], []
    rows = 0
    for s in samples:
        h = s.target.shape[0]
        rows = min(max(int(round(fraction * h)), 1), h - 1)
        cut = h - rows
        val.append(LabelledImage(s.path, s.frame, s.image[cut:], s.target[cut:].copy(), s.instances[cut:]))
        target = s.target.copy()
        target[cut:] = IGNORED
        train.append(LabelledImage(s.path, s.frame, s.image, target, s.instances))
    return train, val, rows


def class_counts(samples: list[LabelledImage], num_classes: int) -> np.ndarray:
    """Number of training pixels of each class."""
    counts = np.zeros(num_classes, np.int64)
    for s in samples:
        valid = s.target[s.target >= 0]
        counts += np.bincount(valid.ravel(), minlength=num_classes)[:num_classes]
    return counts


def class_weight_table(config: TrainConfig, counts: np.ndarray) -> np.ndarray:
    """Per-class pixel weights: all 1, inverse frequency (mean 1 over pixels), or manual."""
    k = len(counts)
    if config.class_weights == "none":
        return np.ones(k, np.float32)
    if config.class_weights == "manual":
        manual = np.asarray(config.manual_class_weights, np.float32)
        if len(manual) != k:
            raise TrainingDataError(
                f"setting 'manual_class_weights' has {len(manual)} values but there are {k} classes"
            )
        return manual
    present = counts > 0
    table = np.zeros(k, np.float32)
    table[present] = counts.sum() / (present.sum() * counts[present])
    return table


def cut_touching(s: LabelledImage) -> None:
    """Make the pixels where two objects touch background, so the gap the network learns to draw
    separates them (the U-Net paper's labels; the border weights then weigh that gap)."""
    cut = touching_pixels(s.instances)
    if cut.any():
        s.target[cut & (s.target > 0)] = 0
        s.instances[cut] = 0


def weigh(samples: list[LabelledImage], table: np.ndarray, config: TrainConfig) -> None:
    """Set each sample's pixel weights: class weight, plus border weights on background if asked
    (then touching objects are first cut apart by a background gap)."""
    for s in samples:
        if config.separate_contours:
            cut_touching(s)
        valid = s.target >= 0
        w = np.where(valid, table[np.maximum(s.target, 0)], 0.0).astype(np.float32)
        if config.separate_contours:
            border = separation_weights(s.instances, config.border_w0, config.border_sigma)
            w += np.where(valid & (s.target == 0), border, 0.0).astype(np.float32)
        s.weight = w


def prepare_training_data(folder: str | Path, config: TrainConfig) -> TrainingData:
    """Load, check, split and weigh the labelled images of ``folder`` (and ``config.val_folder``)."""
    samples = load_labelled_images(folder, config.normalisation, config.input_normalisation)
    val_rows = 0
    if not samples:
        raise TrainingDataError(f"no labelled images in {folder}: draw some labels first")
    if config.val_folder:
        train = samples
        val = load_labelled_images(config.val_folder, config.normalisation, config.input_normalisation)
        if not val:
            raise TrainingDataError(f"no labelled images in the validation folder {config.val_folder}")
    elif config.val_fraction > 0 and len({s.path for s in samples}) == 1 and min(samples[0].target.shape) > 1:
        train, val, val_rows = split_by_region(samples, config.val_fraction)
    else:
        train, val = split_by_image(samples, config.val_fraction, config.seed)
    # every labelled image, whole, before weighing (cut_touching clears the pixels where objects touch)
    objects = measure_scales((s.target, s.instances) for s in samples + (val if config.val_folder else []))
    channels = {frame_channels(s.image) for s in train + val}
    if len(channels) > 1:
        first = train[0]
        odd = next(s for s in train + val if frame_channels(s.image) != frame_channels(first.image))
        raise TrainingDataError(
            f"images mix channel counts: {first.name} has {frame_channels(first.image)}, "
            f"{odd.name} has {frame_channels(odd.image)}; train on one kind at a time"
        )
    _check_patch_fits(train, config.patch_size)
    highest = max(int(s.target.max()) for s in train + val)
    num_classes = config.num_classes or max(highest + 1, 2)
    if highest >= num_classes:
        raise TrainingDataError(
            f"labels use class {highest} but setting 'num_classes' is {num_classes}"
        )
    counts = class_counts(train, num_classes)
    present = np.flatnonzero(counts)
    if len(present) < 2:
        only = int(present[0]) if len(present) else "none"
        raise TrainingDataError(
            f"only one class ({only}) is labelled in the training images of {folder}: label at least "
            "two classes (draw background, class 0, and a foreground class)"
        )
    table = class_weight_table(config, counts)
    val_is_train = not val
    if val_is_train:
        val = train
    weigh(train, table, config)
    if not val_is_train:
        weigh(val, table, config)
    return TrainingData(train, val, num_classes, frame_channels(train[0].image), table, val_is_train, val_rows,
                        objects)


def _check_patch_fits(samples: list[LabelledImage], patch: int) -> None:
    """Refuse a patch size larger than every training image."""
    if any(min(s.target.shape) >= patch for s in samples):
        return
    largest = max(min(s.target.shape) for s in samples)
    fit = (largest // 32) * 32
    hint = f"use --patch {fit} or smaller" if fit else "the images are smaller than the smallest patch (32)"
    raise TrainingDataError(
        f"patch size {patch} is larger than every training image (largest fits {largest} px): {hint}"
    )

