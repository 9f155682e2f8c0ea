"""The object scale a model learns from its training labels, and the prediction postprocessing it implies.

Training measures each foreground class's objects (count, median area, whether the user labelled
touching instances); the model folder keeps it, and ``mia predict``, ``mia evaluate MODEL FOLDER``
and the app derive their default minimum size and instance separation from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np

#: The separation distance when a class has no measured scale (MIA's default).
DEFAULT_MIN_DISTANCE = 20


@dataclass(frozen=True)
class ClassScale:
    """The labelled objects of one foreground class."""

    count: int  # objects (contours) in the labelled images
    median_area: float  # pixels
    touching: bool  # two distinct objects of this class touch (8-neighbourhood) somewhere

    def to_json(self) -> dict[str, Any]:
        """The JSON-ready form kept in the model folder's config.json."""
        return {"count": self.count, "median_area": self.median_area, "touching": self.touching}


@dataclass(frozen=True)
class ClassPostprocessing:
    """What prediction does to one class's contours."""

    separate: bool
    min_distance: int
    min_size: int


def touching_pixels(instances: np.ndarray) -> np.ndarray:
    """Object pixels with a pixel of another object among their 8 neighbours: where objects touch
    (what training cuts for ``separate_contours`` and what makes a class one of touching instances)."""
    from scipy import ndimage

    inst = instances.astype(np.int64)
    top = int(inst.max(initial=0)) + 1
    most = ndimage.maximum_filter(inst, size=3, mode="nearest")
    least = ndimage.minimum_filter(np.where(inst > 0, inst, top), size=3, mode="nearest")
    return (inst > 0) & ((most > inst) | (least < inst))


def measure_scales(samples: Iterable[tuple[np.ndarray, np.ndarray]]) -> dict[int, ClassScale]:
    """The scale of every foreground class over (class map, instance map) pairs, one per labelled image
    or frame; each instance (contour) counts for the class its pixels hold; class 0 is left out."""
    areas: dict[int, list[np.ndarray]] = {}
    touching: dict[int, bool] = {}
    for target, instances in samples:
        for k in np.unique(target[(instances > 0) & (target > 0)]):
            k = int(k)
            inst = np.where(target == k, instances, 0)
            sizes = np.bincount(inst.ravel())[1:]
            areas.setdefault(k, []).append(sizes[sizes > 0])
            touching[k] = touching.get(k, False) or bool(touching_pixels(inst).any())
    out = {}
    for k in sorted(areas):
        sizes = np.concatenate(areas[k])
        out[k] = ClassScale(int(sizes.size), float(np.median(sizes)), touching[k])
    return out


def scales_to_json(scales: Mapping[int, ClassScale]) -> dict[str, dict[str, Any]]:
    """Class id (as text, JSON keys are strings) -> scale fields."""
    return {str(k): s.to_json() for k, s in sorted(scales.items())}


def scales_from_json(raw: Any) -> dict[int, ClassScale]:
    """Parse the stored form (None or {} for models saved before it: no scale); ValueError when malformed."""
    if not raw:
        return {}
    if not isinstance(raw, dict):
        raise ValueError(f"'objects' must map class ids to object scales, got {type(raw).__name__}")
    try:
        return {int(k): ClassScale(int(v["count"]), float(v["median_area"]), bool(v["touching"]))
                for k, v in raw.items()}
    except (TypeError, KeyError, ValueError) as exc:
        raise ValueError(f"'objects' holds a bad object scale: {exc!r}") from exc


def default_min_size(scale: ClassScale) -> int:
    """round(median area / 8): a speck under an eighth of the typical object is noise, not an object."""
    return int(round(scale.median_area / 8))


def default_min_distance(scale: ClassScale) -> int:
    """round(sqrt(median area / pi)), at least 1: peaks closer than a typical radius belong to one object."""
    return max(1, int(round(math.sqrt(scale.median_area / math.pi))))


def default_separate(scale: ClassScale) -> bool:
    """Split only classes whose labels show touching instances, so a dendrite class is never cut."""
    return scale.touching


def default_postprocessing(scales: Mapping[int, ClassScale]) -> dict[int, ClassPostprocessing]:
    """The per-class postprocessing a model's object scale implies; classes without objects get none."""
    return resolve_postprocessing(scales, max(scales, default=0) + 1)


def resolve_postprocessing(
    scales: Mapping[int, ClassScale], num_classes: int, *, separate: bool | None = None,
    min_size: int | None = None, min_distance: int | None = None,
) -> dict[int, ClassPostprocessing]:
    """Per-class postprocessing: explicit values (not None) apply to every foreground class, the others
    come from the class's scale (none for a class without one); classes with nothing to do are left out."""
    plan = {}
    for k in range(1, num_classes):
        scale = scales.get(k)
        sep = separate if separate is not None else (scale is not None and default_separate(scale))
        size = min_size if min_size is not None else (default_min_size(scale) if scale else 0)
        dist = min_distance if min_distance is not None else (
            default_min_distance(scale) if scale else DEFAULT_MIN_DISTANCE)
        if sep or size > 0:
            plan[k] = ClassPostprocessing(bool(sep), int(dist), int(size))
    return plan


def describe_postprocessing(plan: Mapping[int, ClassPostprocessing]) -> str:
    """'class 1: split touching (min distance 21 px), drop under 178 px; class 2: ...' or 'none'."""
    parts = []
    for k, p in sorted(plan.items()):
        what = ([f"split touching (min distance {p.min_distance} px)"] if p.separate else []) + (
            [f"drop under {p.min_size} px"] if p.min_size > 0 else [])
        parts.append(f"class {k}: " + ", ".join(what))
    return "; ".join(parts) or "none"


def describe_scales(scales: Mapping[int, ClassScale], class_names: list[str]) -> str:
    """The data summary's line: objects per class and what predictions will do with them."""
    plan = default_postprocessing(scales)
    parts = []
    for k, s in sorted(scales.items()):
        name = f" '{class_names[k]}'" if k < len(class_names) else ""
        parts.append(f"class {k}{name}: {s.count}, median {s.median_area:.0f} px")
    text = "objects: " + "; ".join(parts)
    if plan:
        text += "; predictions will " + "; ".join(_promise(k, p, len(plan) > 1) for k, p in sorted(plan.items()))
    return text


def _promise(k: int, p: ClassPostprocessing, name_class: bool) -> str:
    """'split touching ones (min distance 21 px) and drop objects under 178 px' (of class k)."""
    what = ([f"split touching ones (min distance {p.min_distance} px)"] if p.separate else []) + (
        [f"drop objects under {p.min_size} px"] if p.min_size > 0 else [])
    return (f"in class {k} " if name_class else "") + " and ".join(what)


def model_postprocessing(info: Any, *, separate: bool | None = None, min_size: int | None = None,
                         min_distance: int | None = None) -> dict[int, ClassPostprocessing]:
    """The postprocessing prediction applies for a saved model (its ModelInfo): the defaults its
    training objects imply, with the explicit options (not None) in their place."""
    return resolve_postprocessing(scales_from_json(getattr(info, "objects", None)), int(info.num_classes),
                                  separate=separate, min_size=min_size, min_distance=min_distance)


def postprocessing_note(plan: Mapping[int, ClassPostprocessing], from_model: bool) -> str:
    """The line saying what postprocessing a prediction got (``from_model``: no option was given)."""
    if not plan:
        return "postprocessing: none"
    if from_model:
        return (f"postprocessing from the model's training objects: {describe_postprocessing(plan)}; "
                "--min-size 0 --no-separate turn it off")
    return f"postprocessing: {describe_postprocessing(plan)}"
