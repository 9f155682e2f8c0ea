"""What a training run will learn from, said before it starts: images of each kind, pixels per class,
what the validation split means, and warnings for data that usually means a mistake."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mia_core.engine.config import TrainConfig
from mia_core.object_scale import describe_scales
from mia_core.engine.dataset import LabelledImage, TrainingData, class_counts

#: A class with fewer training pixels than this is "tiny" (a handful of pixels, e.g. one object).
TINY_CLASS_PIXELS = 200
#: This many tiny classes suggests instance numbers were imported as classes.
MANY_TINY_CLASSES = 5


@dataclass
class DataSummary:
    """Lines to print and warnings to raise before training."""

    lines: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _kinds(samples: list[LabelledImage]) -> tuple[int, int]:
    """(samples with a foreground class, samples with background only: negative examples)."""
    negatives = sum(1 for s in samples if not np.any(s.target > 0))
    return len(samples) - negatives, negatives


def _images(samples: list[LabelledImage]) -> str:
    """'3 images' or '2 images, 12 frames'."""
    paths = {s.path for s in samples}
    frames = sum(1 for s in samples if s.frame is not None)
    text = f"{len(paths)} image(s)"
    return text + (f", {frames} frame(s)" if frames else "")


def summarise(data: TrainingData, config: TrainConfig) -> DataSummary:
    """The data summary of a prepared training set."""
    out = DataSummary()
    with_fg, negatives = _kinds(data.train)
    out.lines.append(f"training on {_images(data.train)}: {with_fg} with foreground, "
                     f"{negatives} all background (negative examples)")
    counts = class_counts(data.train, data.num_classes)
    total = max(int(counts.sum()), 1)
    shown = ", ".join(f"{k}: {int(c)} ({100 * c / total:.1f} %)" for k, c in enumerate(counts[:8]))
    more = f", ... ({data.num_classes} classes)" if data.num_classes > 8 else ""
    out.lines.append(f"training pixels per class: {shown}{more}")
    if data.val_is_train:
        out.lines.append("validation: on the training images themselves (val_fraction is 0): the score says how "
                         "well the model fits them, not how it does on new images")
        out.warnings.append("validation falls back to the training data: set val_fraction above 0 or "
                            "give --val FOLDER for an honest score")
    elif data.val_rows:
        out.lines.append(f"validation: on a held-out region of the single image, its bottom {data.val_rows} "
                         "rows, which do not train: the score is on pixels the model never saw, but of the "
                         "same image (label a second image for a score on new images)")
    else:
        where = "from the validation folder" if config.val_folder else f"held out of {len({x.path for x in data.train + data.val})}"
        out.lines.append(f"validation: on {_images(data.val)} {where}, never trained on: the score estimates "
                         "how the model does on new images like them")
    if not data.val_is_train:
        val_counts = class_counts(data.val, data.num_classes)
        missing = [k for k in range(data.num_classes) if counts[k] > 0 and val_counts[k] == 0]
        if missing:
            out.warnings.append(f"class(es) {', '.join(map(str, missing))} do not occur in the validation "
                                "images: the score cannot tell how well they are found")
    if data.objects:
        out.lines.append(describe_scales(data.objects, list(config.class_names)))
    out.lines.append(f"patches per epoch: {config.steps_per_epoch * config.batch_size} "
                     f"({config.steps_per_epoch} steps of {config.batch_size} patches of "
                     f"{config.patch_size}x{config.patch_size}), {config.epochs} epoch(s) at most")
    tiny = [k for k in range(1, data.num_classes) if 0 < counts[k] < TINY_CLASS_PIXELS]
    if len(tiny) >= MANY_TINY_CLASSES:
        out.warnings.append(f"{len(tiny)} classes have fewer than {TINY_CLASS_PIXELS} pixels each: were object "
                            "numbers imported as classes? (mia labels import-masks --instances)")
    return out
