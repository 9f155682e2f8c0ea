"""Images of one folder whose label files would be the same file (MIA's ``<stem>.npz`` layout).

``one.png`` and ``one.tif`` both keep their labels in ``Segmentation_labels/one.npz``, and frame 1
of a stack ``a.tif`` keeps its labels in ``a_frame0001.npz``, as an image ``a_frame0001.png`` does.
The layout stays; such images are refused (named together) so no labels are mixed or overwritten.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Sequence

from mia_core.label_store import LABEL_FOLDER, label_path

_FRAME_STEM = re.compile(r"^(?P<stack>.+)_frame(?P<frame>\d{4,})$")


def label_clashes(
    images: Sequence[Path], frames_of: Callable[[Path], int] | None = None
) -> dict[Path, str]:
    """Each image that shares a label file with another, with a reason naming both and the file.

    ``frames_of`` gives a stack's frame count (read only for stacks that may clash); without it,
    or when it fails, a possible stack counts as one with that frame.
    """
    images = [Path(p) for p in images]
    by_label: dict[str, list[Path]] = {}
    for image in images:
        by_label.setdefault(label_path(image).name, []).append(image)
    out: dict[Path, str] = {}
    for name, group in by_label.items():
        if len(group) > 1:
            names = " and ".join(p.name for p in group)
            for image in group:
                out[image] = (f"{names} would share the label file {LABEL_FOLDER}/{name}; "
                              "rename all but one of them")
    by_stem: dict[str, list[Path]] = {}
    for image in images:
        by_stem.setdefault(image.stem, []).append(image)
    for image in images:
        match = _FRAME_STEM.match(image.stem)
        if match is None:
            continue
        frame = int(match["frame"])
        if match["frame"] != f"{frame:04d}":
            continue  # "a_frame00001" is no frame's label name (frames are written %04d)
        for stack in by_stem.get(match["stack"], []):
            if not _has_frame(stack, frame, frames_of):
                continue
            name = label_path(image).name
            reason = (f"{image.name} and frame {frame} of {stack.name} would share the label file "
                      f"{LABEL_FOLDER}/{name}; rename {image.name}")
            out.setdefault(image, reason)
            out.setdefault(stack, reason)
    return out


def _has_frame(stack: Path, frame: int, frames_of: Callable[[Path], int] | None) -> bool:
    """True when ``stack`` has (or, unknown, may have) frame ``frame``."""
    if frames_of is None:
        return True
    try:
        frames = int(frames_of(stack))
    except Exception:  # noqa: BLE001 - an unreadable stack is reported on its own; stay careful
        return True
    return frames > 1 and frame < frames


def header_frames(path: Path) -> int:
    """Frame count from the image header (for :func:`label_clashes`)."""
    from mia_core.images import image_shape

    return int(image_shape(path)[0])
