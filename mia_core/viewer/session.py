"""The label documents of the open folder: one per image, per frame, or one shared by a stack.

Documents are kept while the folder is open (and when the same folder is opened again), so
undo/redo history survives switching images and frames. A document whose label file another
program changed is read again when it holds no history of its own; one with history is kept, and
the window offers to reload it. Every document reports its changes to one listener (the window).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from mia_core.document import ConflictResolver, LabelDocument
from mia_core.label_store import LabelFileError, label_path
from mia_core.labels import LabelSet

Key = tuple[Path, int | None]
ChangeListener = Callable[[LabelDocument, LabelSet], None]


def default_shared(image: Path, frames: int) -> bool:
    """A stack uses one shared label file when it already has one and no per-frame files."""
    if frames <= 1:
        return False
    if not label_path(image).exists():
        return False
    folder = label_path(image).parent
    prefix = label_path(image, 0).name[: -len("0000.npz")]
    return not any(folder.glob(f"{prefix}*.npz"))


class LabelSession:
    """Creates and keeps the documents of one folder."""

    def __init__(self, on_change: ChangeListener, inner_contours: bool = True,
                 on_conflict: ConflictResolver | None = None) -> None:
        self.on_change = on_change
        self.on_conflict = on_conflict  # asked when a label file changed on disk before a write
        self.inner_contours = inner_contours
        self.docs: dict[Key, LabelDocument] = {}
        self.shared: dict[Path, bool] = {}

    def clear(self) -> None:
        """A new folder: forget every document."""
        self.docs.clear()
        self.shared.clear()

    def is_shared(self, image: Path, frames: int) -> bool:
        """Whether a stack's frames share one label file (decided from disk the first time)."""
        if frames <= 1:
            return False
        if image not in self.shared:
            self.shared[image] = default_shared(image, frames)
        return self.shared[image]

    def set_shared(self, image: Path, shared: bool) -> None:
        """Switch a stack between per-frame and shared labels (files on disk are left as they are)."""
        self.shared[image] = shared

    def document(self, image: Path, shape: tuple[int, int], frame: int | None) -> tuple[LabelDocument, str | None]:
        """The document of an image (frame None) or a frame, and a warning when its file was corrupt.

        A corrupt label file has been renamed aside by the label store; the document then starts
        empty so the user can go on, and the warning names the kept file. A file that could not be
        moved aside (read-only folder) or that a newer mia wrote stays where it is, and the document
        is locked so that no edit can replace it.
        """
        key = (Path(image), frame)
        doc = self.docs.get(key)
        if doc is not None and not (unedited(doc) and doc.disk_changed()):
            return doc, None
        warning = None
        # The flag only: holes are filled when the user turns the switch off (one edit), never by
        # merely opening an image.
        try:
            doc = LabelDocument(image, shape, frame, inner_contours=self.inner_contours)
        except (LabelFileError, OSError) as exc:
            warning = str(exc)
            doc = LabelDocument(image, shape, frame, inner_contours=self.inner_contours, initial=LabelSet())
            if not isinstance(exc, LabelFileError) or exc.kept_as is None:
                doc.locked = "its label file could not be read and is left untouched"
                warning += "; editing these labels is disabled"
        doc.on_conflict = self.on_conflict
        doc.subscribe(lambda labels, d=doc: self.on_change(d, labels))
        self.docs[key] = doc
        return doc, warning

    def keep_unchanged(self) -> int:
        """The same folder opened again: keep the documents whose label file nobody changed; how many."""
        for key, doc in list(self.docs.items()):
            if doc.disk_changed() or not doc.image_path.exists():
                del self.docs[key]
        return len(self.docs)

    def set_inner_contours(self, value: bool) -> None:
        """Remember the switch for documents opened later (the window applies it to the current one)."""
        self.inner_contours = value
        for doc in self.docs.values():
            doc.set_inner_contours(value, fill_now=False)


def unedited(doc: LabelDocument) -> bool:
    """True when a document holds nothing of the user's: no undo or redo steps."""
    return not doc.can_undo and not doc.can_redo
