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
#: Fewer labelled objects than this give no typical size, so no default minimum size.
MIN_OBJECTS_FOR_SIZE = 10
#: Split distances tried by the calibration, as multiples of the typical radius.
DISTANCE_FACTORS = tuple(round(0.5 + 0.1 * i, 1) for i in range(16))  # 0.5 .. 2.0
#: At most this many labelled clumps (connected regions of a class) are split per candidate distance.
CALIBRATION_CLUMPS = 400


@dataclass(frozen=True)
class ClassScale:
    """The labelled objects of one foreground class."""

    count: int  # objects (contours) in the labelled images
    median_area: float  # pixels
    touching: bool  # two distinct objects of this class touch (8-neighbourhood) somewhere
    min_distance: int | None = None  # the split distance that best recovers the labelled objects

    def to_json(self) -> dict[str, Any]:
        """The JSON-ready form kept in the model folder's config.json."""
        out: dict[str, Any] = {"count": self.count, "median_area": self.median_area, "touching": self.touching}
        if self.min_distance is not None:
            out["min_distance"] = self.min_distance
        return out


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
    or frame; each instance (contour) counts for the class its pixels hold; class 0 is left out. A class
    of touching instances also gets the split distance calibrated on its labels."""
    areas: dict[int, list[np.ndarray]] = {}
    touching: dict[int, bool] = {}
    clumps: dict[int, Reservoir] = {}
    for target, instances in samples:
        for k in np.unique(target[(instances > 0) & (target > 0)]):
            k = int(k)
            inst = np.where(target == k, instances, 0)
            sizes = np.bincount(inst.ravel())[1:]
            areas.setdefault(k, []).append(sizes[sizes > 0])
            touching[k] = touching.get(k, False) or bool(touching_pixels(inst).any())
            keep = clumps.setdefault(k, Reservoir(CALIBRATION_CLUMPS))
            for clump in _clumps(inst):
                keep.add(clump)
    out = {}
    for k in sorted(areas):
        sizes = np.concatenate(areas[k])
        median = float(np.median(sizes))
        distance = calibrate_min_distance(clumps[k].items, _radius(median)) if touching[k] else None
        out[k] = ClassScale(int(sizes.size), median, touching[k], distance)
    return out


class Reservoir:
    """A uniform random sample of at most ``size`` items from a stream of unknown length (Vitter's
    algorithm R, seeded), so calibration holds a bounded number of crops however many images train."""

    def __init__(self, size: int, seed: int = 0) -> None:
        self.size = size
        self.seen = 0
        self.items: list[Any] = []
        self._rng = np.random.default_rng(seed)

    def add(self, item: Any) -> None:
        """Offer one item: kept with probability size / seen."""
        self.seen += 1
        if len(self.items) < self.size:
            self.items.append(item)
            return
        j = int(self._rng.integers(self.seen))
        if j < self.size:
            self.items[j] = item


def _radius(median_area: float) -> int:
    """round(sqrt(area / pi)), at least 1: the radius of a disc of the typical area."""
    return max(1, int(round(math.sqrt(median_area / math.pi))))


def _clumps(instances: np.ndarray) -> list[np.ndarray]:
    """The instance map cut to each 8-connected region of labelled pixels (padded by one pixel):
    what prediction sees as one region and must split into these instances."""
    from scipy import ndimage

    regions, _ = ndimage.label(instances > 0, structure=np.ones((3, 3), bool))
    out = []
    for i, box in enumerate(ndimage.find_objects(regions), start=1):
        if box is not None:
            out.append(np.pad(np.where(regions[box] == i, instances[box], 0), 1))
    return out


def calibrate_min_distance(clumps: list[np.ndarray], radius: int) -> int:
    """The split distance (0.5 .. 2 typical radii) whose watershed parts of the labelled regions match
    their instances best (object F1 at IoU 0.5; ties go to the distance nearest the radius), so the
    default split follows how the user separated touching objects rather than a fixed rule."""
    from mia_core.evaluation import object_counts
    from mia_core.instance_split import split_mask

    if len(clumps) > CALIBRATION_CLUMPS:
        pick = np.random.default_rng(0).choice(len(clumps), CALIBRATION_CLUMPS, replace=False)
        clumps = [clumps[i] for i in sorted(pick)]
    candidates = sorted({max(1, int(round(radius * f))) for f in DISTANCE_FACTORS})
    best, best_key = radius, (-1.0, 0)
    for d in candidates:
        tp = n_true = n_pred = 0
        for inst in clumps:
            counts = object_counts(inst, split_mask(inst > 0, d), thresholds=(0.5,))
            tp, n_true, n_pred = tp + int(counts.tp[0]), n_true + counts.n_true, n_pred + counts.n_pred
        key = (2 * tp / max(1, n_true + n_pred), -abs(d - radius))
        if key > best_key:
            best, best_key = d, key
    return best


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
        return {int(k): ClassScale(int(v["count"]), float(v["median_area"]), bool(v["touching"]),
                                   None if v.get("min_distance") is None else int(v["min_distance"]))
                for k, v in raw.items()}
    except (TypeError, KeyError, ValueError) as exc:
        raise ValueError(f"'objects' holds a bad object scale: {exc!r}") from exc


def default_min_size(scale: ClassScale) -> int:
    """round(median area / 4): a piece under a quarter of the typical object is noise or a fragment;
    0 for a class of fewer than MIN_OBJECTS_FOR_SIZE objects, whose median is no typical size."""
    if scale.count < MIN_OBJECTS_FOR_SIZE:
        return 0
    return int(round(scale.median_area / 4))


def default_min_distance(scale: ClassScale) -> int:
    """The distance calibrated on the labels; for scales stored without one, the typical radius
    round(sqrt(median area / pi)): peaks closer than that belong to one object."""
    return scale.min_distance if scale.min_distance is not None else _radius(scale.median_area)


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
    """'class 1: split touching (min distance 25 px), drop under 356 px; class 2: ...' or 'none'."""
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
    few = [k for k, s in sorted(scales.items()) if s.count < MIN_OBJECTS_FOR_SIZE]
    if few:
        which = "" if len(scales) == 1 else " in class " + ", ".join(map(str, few))
        text += f"; no minimum size{which} (under {MIN_OBJECTS_FOR_SIZE} objects labelled)"
    return text


def _promise(k: int, p: ClassPostprocessing, name_class: bool) -> str:
    """'split touching ones (min distance 25 px) and drop objects under 356 px' (of class k)."""
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
