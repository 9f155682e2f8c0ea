"""Use one frame's contours as the shared label of a whole stack (MIA's ``<stem>.npz`` stack file).

The per-frame files the shared label replaces are moved aside into ``Segmentation_labels/replaced/``
(never deleted at once): :meth:`StackLabelChange.undo` moves them back, :meth:`confirm` deletes them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from mia_core.label_store import LABEL_FOLDER, label_path

REPLACED_FOLDER = "replaced"


def per_frame_files(image: Path, frames: int) -> list[Path]:
    """The per-frame label files of a stack that exist on disk."""
    return [p for f in range(frames) if (p := label_path(image, f)).exists()]


def kept_path(path: Path) -> Path:
    """Where a replaced per-frame file waits until the user confirms."""
    return path.parent / REPLACED_FOLDER / path.name


@dataclass
class StackLabelChange:
    """Per-frame files moved aside for a stack's shared label: ``(original, kept)`` pairs."""

    image: Path
    moved: list[tuple[Path, Path]] = field(default_factory=list)

    def undo(self) -> list[Path]:
        """Move the per-frame files back; returns those that could not go back (a file took their place)."""
        blocked = []
        for original, kept in self.moved:
            if original.exists() or not kept.exists():
                blocked.append(kept)
                continue
            os.replace(kept, original)  # keeps the file's stamp: open documents stay in step
        _remove_if_empty(self.image)
        self.moved = []
        return blocked

    def confirm(self) -> int:
        """Delete the kept per-frame files; returns how many were deleted."""
        n = 0
        for _original, kept in self.moved:
            try:
                kept.unlink()
                n += 1
            except FileNotFoundError:
                pass
        _remove_if_empty(self.image)
        self.moved = []
        return n


def move_per_frame_aside(image: Path, frames: int) -> StackLabelChange:
    """Move the stack's per-frame files into the replaced folder (an existing kept copy is refused)."""
    files = per_frame_files(image, frames)
    change = StackLabelChange(Path(image))
    for p in files:
        target = kept_path(p)
        if target.exists():
            change.undo()
            raise FileExistsError(f"{target} already exists: delete it or move it away first")
        target.parent.mkdir(exist_ok=True)
        os.replace(p, target)
        change.moved.append((p, target))
    return change


def _remove_if_empty(image: Path) -> None:
    folder = Path(image).parent / LABEL_FOLDER / REPLACED_FOLDER
    try:
        folder.rmdir()
    except OSError:
        pass  # not empty (other stacks' files wait there) or not there
