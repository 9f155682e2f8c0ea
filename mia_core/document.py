"""One image's (or frame's) labels being edited: every change is saved at once and can be undone."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # pragma: no cover - typing only
    import numpy as np

from mia_core.labels import LabelSet, Points
from mia_core.label_store import (
    LabelConflictError, LabelStoreError, file_stamp, label_path, read_label_file, save_labels,
)

Listener = Callable[[LabelSet], None]
#: Asked when the file changed on disk before a write: "reload", "keep" (write over it) or
#: anything else to drop the edit. Without one, the write raises LabelConflictError.
ConflictResolver = Callable[["LabelDocument"], str]


class LabelDocument:
    """Edits of one label file with an unlimited undo/redo history of LabelSet states.

    A state is saved before it becomes current, so when a save fails (read-only folder) the
    document keeps its previous state and the error (``LabelStoreError``) reaches the caller.
    Before each write the file is compared with the version last read or written here: when
    someone else changed it, ``on_conflict`` decides, or ``LabelConflictError`` is raised.
    """

    def __init__(
        self,
        image_path: str | os.PathLike[str],
        shape: tuple[int, int] | None,
        frame: int | None = None,
        mia_format: bool | None = None,
        path: str | os.PathLike[str] | None = None,
        inner_contours: bool = True,
        initial: LabelSet | None = None,
    ) -> None:
        self.image_path = Path(image_path)
        self.frame = frame
        self.path = Path(path) if path is not None else label_path(self.image_path, frame)
        self.shape = shape
        # Taken before reading: a change in between shows as a conflict, never as a silent overwrite.
        self._disk = file_stamp(self.path)
        self.on_conflict: ConflictResolver | None = None
        # ``initial`` skips reading the file (a file that cannot be read, a document kept locked).
        loaded, is_mia = read_label_file(self.path) if initial is None else (initial, False)
        # None keeps the layout the file already has, so MIA users' files stay readable by MIA.
        self.mia_format = is_mia if mia_format is None else bool(mia_format)
        #: Why edits are refused (e.g. a label file that could not be read and must not be
        #: replaced), or None when the document can be edited.
        self.locked: str | None = None
        initial = loaded.with_shape(shape)
        self._history: list[LabelSet] = [initial]
        # For each state: the value the Inner contours switch took when the switch made that state
        # (False for "holes filled"), else None; undo and redo of that step set the switch back.
        self._switch: list[bool | None] = [None]
        self._index = 0
        # Only governs later edits: opening a file never rewrites it.
        self._inner_contours = bool(inner_contours)
        self._listeners: list[Listener] = []

    # --- state -------------------------------------------------------------------------------
    @property
    def labels(self) -> LabelSet:
        """The current label set."""
        return self._history[self._index]

    @property
    def can_undo(self) -> bool:
        """True when there is an earlier state."""
        return self._index > 0

    @property
    def can_redo(self) -> bool:
        """True when an undone state can be restored."""
        return self._index < len(self._history) - 1

    @property
    def inner_contours(self) -> bool:
        """Whether contours keep their holes; turning it off fills every hole at once.

        Off, no edit leaves an empty hole in the contours it touches. The fill is one undo step
        that carries the switch: undoing it turns the switch back on, redoing it off again.
        """
        return self._inner_contours

    @inner_contours.setter
    def inner_contours(self, value: bool) -> None:
        self.set_inner_contours(value)

    def set_inner_contours(self, value: bool, fill_now: bool = True) -> bool:
        """Choose whether edits keep holes; with ``fill_now``, turning it off fills every hole as one edit.

        ``fill_now=False`` only sets the flag, for documents that are merely being looked at. When
        the fill cannot be saved the switch stays as it was, so the switch never claims what the
        labels do not show.
        """
        if value or not fill_now:
            self._inner_contours = bool(value)
            return False
        filled = self.labels.fill_holes()
        before, self._inner_contours = self._inner_contours, False
        if filled is self.labels or filled.same_as(self.labels):
            return False  # no hole to fill: the switch is simply off
        done = False
        try:
            done = self._commit(filled, switch=False)
        finally:
            if not done:
                self._inner_contours = before  # the holes are still there, so the switch stays on
        return done

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(labels)`` after every change (edit, undo, redo, reset)."""
        self._listeners.append(listener)

    # --- edits -------------------------------------------------------------------------------
    def add_polygon(self, points: Points, class_id: int) -> bool:
        """Add a filled polygon of a class (merging with it, taking it from other classes)."""
        return self._commit(self.labels.add_polygon(points, class_id, self._inner_contours))

    def subtract_polygon(self, points: Points) -> bool:
        """Cut a filled polygon out of every contour (no hole while inner contours are off)."""
        return self._commit(self.labels.subtract_polygon(points, self._inner_contours))

    def slice(self, polyline: Points, width: int = 2) -> bool:
        """Cut contours along an open polyline."""
        return self._commit(self.labels.slice(polyline, width, self._inner_contours))

    def brush(self, path: Points, radius: float, class_id: int, erase: bool = False) -> bool:
        """Paint or erase with a round brush along a path."""
        return self._commit(self.labels.brush(path, radius, class_id, erase, self._inner_contours))

    def assign_class(self, x: float, y: float, class_id: int) -> bool:
        """Give the contour under the point a class."""
        return self._commit(self.labels.assign_class(x, y, class_id))

    def delete_at(self, x: float, y: float) -> bool:
        """Delete the contour under the point."""
        return self._commit(self.labels.delete_at(x, y, self._inner_contours))

    def drop_small(self, min_area: float) -> bool:
        """Delete contours smaller than ``min_area`` square pixels."""
        return self._commit(self.labels.drop_small(min_area))

    def replace_class_in_box(self, box: tuple[int, int, int, int], mask: "np.ndarray", class_id: int) -> bool:
        """An assistant's result: ``mask`` becomes the class inside ``box`` (one undoable step)."""
        return self._commit(self.labels.replace_class_in_box(box, mask, class_id, self._inner_contours))

    def replace(self, labels: LabelSet) -> bool:
        """Replace every contour (a prediction, an import) as one undoable step."""
        return self._commit(labels.with_shape(self.shape or labels.shape))

    def reset(self) -> bool:
        """Remove every contour, as one undoable step."""
        return self._commit(LabelSet((), self.shape))

    # --- history -----------------------------------------------------------------------------
    def undo(self) -> bool:
        """Go back one state (and save it)."""
        if not self.can_undo:
            return False
        return self._move_to(self._index - 1)

    def redo(self) -> bool:
        """Restore the state undone last (and save it)."""
        if not self.can_redo:
            return False
        return self._move_to(self._index + 1)

    def _commit(self, new: LabelSet, switch: bool | None = None) -> bool:
        if new is self.labels or new.same_as(self.labels):
            return False
        self._check_unlocked()
        if not self._save(new):
            return False
        self._push(new, switch)
        return True

    def _move_to(self, index: int) -> bool:
        self._check_unlocked()
        if not self._save(self._history[index]):
            return False
        back = index < self._index
        step = self._switch[self._index] if back else self._switch[index]
        if step is not None:  # the step made by the Inner contours switch: the switch follows
            self._inner_contours = (not step) if back else step
        self._index = index
        self._notify()
        return True

    def _push(self, state: LabelSet, switch: bool | None = None) -> None:
        del self._history[self._index + 1 :]
        del self._switch[self._index + 1 :]
        self._history.append(state)
        self._switch.append(switch)
        self._index += 1
        self._notify()

    # --- another writer ----------------------------------------------------------------------
    def disk_changed(self) -> bool:
        """True when the file on disk is not the version last read or written by this document."""
        return file_stamp(self.path) != self._disk

    def reload(self) -> None:
        """Take the labels on disk now, as one undoable step (undo brings this document's back)."""
        stamp = file_stamp(self.path)
        loaded, is_mia = read_label_file(self.path)
        self._disk = stamp
        if stamp is not None:
            self.mia_format = is_mia
        self._push(loaded.with_shape(self.shape))

    def keep_mine(self) -> None:
        """Write this document's labels over a file that changed on disk."""
        self._check_unlocked()
        save_labels(self.path, self.labels, self.mia_format)
        self._disk = file_stamp(self.path)

    def _save(self, labels: LabelSet) -> bool:
        """Write a state unless another writer changed the file since; True when written."""
        if self.disk_changed():
            if self.on_conflict is None:
                raise LabelConflictError(self.path)
            choice = self.on_conflict(self)
            if choice == "reload":
                self.reload()
                return False
            if choice != "keep":
                return False
        save_labels(self.path, labels, self.mia_format)
        self._disk = file_stamp(self.path)
        return True

    def _check_unlocked(self) -> None:
        if self.locked:
            raise LabelStoreError(f"labels of {self.image_path.name} cannot be edited: {self.locked}")

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener(self.labels)
