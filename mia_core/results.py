"""From label files to a table: postprocess, optionally track, measure every contour, write rows.

The app, ``mia export`` and Python share this; every measurement, postprocessor and writer is a
plugin (``mia_exporters``, ``mia_postprocessors``, ``mia_table_writers``).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from mia_core.images import list_images, read_image
from mia_core.label_store import LABEL_FOLDER, label_path, load_labels
from mia_core.labels import LabelSet

#: Columns every row has, before the measurement columns.
BASE_COLUMNS = ("image", "frame", "object", "parent", "class", "class_id")

Progress = Callable[[int, int, str], None]


class ExportError(ValueError):
    """Bad export settings or output path (raised before any image is read)."""


@dataclass
class ExportSettings:
    """What to measure and how; the defaults match MIA."""

    columns: Sequence[str] | None = None  # None = every column
    min_size: int = 3
    pixel_size: float | None = None  # µm per pixel
    tracking: bool = False
    separate: bool = False
    min_distance: int = 20
    max_distance: float = 35.0
    gap: int = 1
    skeleton_kernel: int = 11
    delimiter: str = ";"
    sheet_per_class: bool = False  # XLSX: one sheet per class instead of one Objects sheet


def all_columns(registry: Any) -> list[str]:
    """Every column the loaded exporters offer, base columns first."""
    cols = list(BASE_COLUMNS)
    for e in registry.components("exporters"):
        cols += [c for c in getattr(e, "columns", ()) if c not in cols]
    return cols


def check_columns(registry: Any, columns: Sequence[str] | None) -> list[str]:
    """The chosen columns, or every column; an unknown name lists the valid ones."""
    valid = all_columns(registry)
    if not columns:
        return valid
    unknown = [c for c in columns if c not in valid]
    if unknown:
        raise ExportError(f"unknown column(s) {', '.join(unknown)}; valid columns: {', '.join(valid)}")
    return list(columns)


def writer_for(registry: Any, out: Path) -> Any:
    """The table writer for the output's suffix."""
    for w in registry.components("table_writers"):
        if out.suffix.lower() in w.suffixes:
            return w
    known = ", ".join(s for w in registry.components("table_writers") for s in w.suffixes)
    raise ExportError(f"{out}: no table writer for {out.suffix or 'files without a suffix'}; use one of {known}")


def check_output(out: Path, force: bool) -> None:
    """Fail before any work on a folder, an existing file (without force) or an unwritable place."""
    if out.is_dir():
        raise ExportError(f"{out} is a folder; give a file name such as {out / 'results.csv'}")
    if out.exists() and not force:
        raise ExportError(f"{out} exists; --force replaces it")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise ExportError(f"cannot write {out}: folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        raise ExportError(f"cannot write {out}: permission denied")


def natural_key(path: Path) -> tuple:
    """Sort key for "naturally sorted" names: img2 before img10 (tracking across a folder's images)."""
    return tuple(int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", Path(path).name))


def class_names(folder: Path) -> dict[int, str]:
    """Class names from the folder's class file (empty when there is none or it is unreadable)."""
    path = Path(folder) / LABEL_FOLDER / "classes.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        items = raw.get("classes", raw) if isinstance(raw, dict) else raw
        return {int(c.get("id", i)): str(c["name"]) for i, c in enumerate(items)}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}


def frame_labels(image: Path, frames: int) -> list[LabelSet]:
    """Each frame's labels: its own file, else the label shared by the stack."""
    shared = load_labels(label_path(image))
    if frames == 1:
        return [shared]
    return [load_labels(p) if (p := label_path(image, i)).exists() else shared for i in range(frames)]


def postprocess(registry: Any, labels: LabelSet, settings: ExportSettings,
                view: tuple[int, int, int, int] | None = None) -> LabelSet:
    """Instance separation (when asked) then the minimum size, through their plugins; with the
    ``view`` a field-of-view prediction covered, objects its edges cut keep whatever their size."""
    if settings.separate:
        labels = registry.get("postprocessors", "separate").apply(labels, min_distance=settings.min_distance)
    if settings.min_size > 0:
        extra = {} if view is None else {"view": view}
        labels = registry.get("postprocessors", "min_size").apply(labels, min_size=settings.min_size, **extra)
    return labels


def postprocess_by_class(registry: Any, labels: LabelSet, plan: Mapping[int, Any],
                         view: tuple[int, int, int, int] | None = None) -> LabelSet:
    """Each planned class's contours postprocessed with its own settings (a ClassPostprocessing of
    mia_core.object_scale); other classes' contours stay as they are. ``view`` as in postprocess."""
    if not plan:
        return labels
    out = [c for c in labels.contours if c.class_id not in plan]
    changed = False
    for k, p in sorted(plan.items()):
        mine = LabelSet([c for c in labels.contours if c.class_id == k], labels.shape)
        new = postprocess(registry, mine, ExportSettings(min_size=p.min_size, separate=p.separate,
                                                         min_distance=p.min_distance), view)
        changed = changed or not new.same_as(mine)
        out += new.contours
    return LabelSet(out, labels.shape) if changed else labels


def check_postprocessors(registry: Any, plan: Mapping[int, Any]) -> None:
    """Raise ExportError, before any work, when a plugin the per-class plan needs is disabled or missing."""
    needed = (["separate"] if any(p.separate for p in plan.values()) else []) + (
        ["min_size"] if any(p.min_size > 0 for p in plan.values()) else [])
    for name in needed:
        try:
            registry.get("postprocessors", name)
        except KeyError as exc:
            raise ExportError(f"the postprocessing needs the '{name}' postprocessor plugin: {exc}; "
                              "--min-size 0 --no-separate predict without it") from exc


def measure(registry: Any, labels: LabelSet, image: Any, settings: ExportSettings) -> list[dict[str, Any]]:
    """Every exporter's columns for each contour, merged into one row per contour."""
    rows: list[dict[str, Any]] = [{} for _ in labels.contours]
    for e in registry.components("exporters"):
        for row, part in zip(rows, e.measure(labels, image, pixel_size=settings.pixel_size,
                                             skeleton_kernel=settings.skeleton_kernel)):
            row.update(part)
    return rows


def export_folder(
    registry: Any, folder: str | os.PathLike[str], out: str | os.PathLike[str],
    settings: ExportSettings | None = None, force: bool = False, progress: Progress | None = None,
) -> int:
    """Measure every labelled image of ``folder`` into the table ``out``; returns the row count."""
    settings = settings or ExportSettings()
    folder, out = Path(folder), Path(out)
    check_output(out, force)
    columns = check_columns(registry, settings.columns)
    writer = writer_for(registry, out)
    images = list_images(folder)
    names = class_names(folder)
    rows: list[dict[str, Any]] = []
    singles: list[tuple[str, Any, LabelSet]] = []  # single images, tracked across the folder
    tracker = registry.get("postprocessors", "tracking") if settings.tracking else None
    for n, path in enumerate(images):
        if progress:
            progress(n, len(images), path.name)
        pixels = read_image(path)
        frames = [postprocess(registry, ls, settings) for ls in frame_labels(path, pixels.shape[0])]
        if tracker is not None and len(frames) == 1:
            singles.append((path.name, pixels[0], frames[0]))
            continue
        parents: dict[int, int] = {}
        if tracker is not None:
            result = tracker.apply_sequence(frames, max_distance=settings.max_distance, gap=settings.gap)
            frames, parents = result.frames, result.parents
        for f, labels in enumerate(frames):
            rows += _rows(registry, path.name, f if len(frames) > 1 else None, labels, pixels[f], settings, names, parents)
    if singles:
        singles.sort(key=lambda s: natural_key(Path(s[0])))
        result = tracker.apply_sequence([s[2] for s in singles], max_distance=settings.max_distance, gap=settings.gap)
        for (name, pixels, _), labels in zip(singles, result.frames):
            rows += _rows(registry, name, None, labels, pixels, settings, names, result.parents)
    if progress:
        progress(len(images), len(images), "")
    writer.write(out, rows, columns, delimiter=settings.delimiter, sheet_per_class=settings.sheet_per_class)
    return len(rows)


def _rows(registry: Any, name: str, frame: int | None, labels: LabelSet, pixels: Any,
          settings: ExportSettings, names: dict[int, str], parents: dict[int, int]) -> list[dict[str, Any]]:
    """Table rows of one image or frame."""
    out = []
    for c, row in zip(labels.contours, measure(registry, labels, pixels, settings)):
        out.append({"image": name, "frame": frame, "object": c.object_id or None,
                    "parent": parents.get(c.object_id), "class": names.get(c.class_id, str(c.class_id)),
                    "class_id": c.class_id, **row})
    return out


def postprocess_files(registry: Any, paths: Sequence[Path], settings: ExportSettings | Mapping[int, Any],
                      view: tuple[int, int, int, int] | None = None) -> int:
    """Apply separation and the minimum size (the same to every class, or a per-class plan as
    :func:`postprocess_by_class` takes) to written label files in place; returns the files changed.
    ``view``: the field of view the files were predicted in, as in :func:`postprocess`."""
    from mia_core.label_store import read_label_file, save_labels

    changed = 0
    for p in paths:
        labels, is_mia = read_label_file(p)
        if isinstance(settings, ExportSettings):
            new = postprocess(registry, labels, settings, view)
        else:
            new = postprocess_by_class(registry, labels, settings, view)
        if not new.same_as(labels):
            save_labels(p, new, is_mia)
            changed += 1
    return changed
