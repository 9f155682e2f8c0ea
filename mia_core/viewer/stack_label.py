"""Edit > Use as stack label: the current frame's contours become the label of the whole stack.

The app asks first; the per-frame files are kept aside until Edit > Confirm stack label, and one
Ctrl+Z puts the per-frame labels (and the stack file as it was) back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PyQt5.QtWidgets import QMessageBox

from mia_core.document import LabelDocument
from mia_core.label_store import LabelStoreError
from mia_core.labels import LabelSet
from mia_core.stack_label import REPLACED_FOLDER, StackLabelChange, move_per_frame_aside, per_frame_files


@dataclass
class _Pending:
    change: StackLabelChange
    doc: LabelDocument  # the stack's shared document
    state: LabelSet | None  # what the shared document became (None: it already held these contours)


class StackLabelControl:
    """Does, undoes and confirms "Use as stack label" for a main window."""

    def __init__(self, window: Any) -> None:
        self.window = window
        self.pending: _Pending | None = None
        self.confirm_action: Any = None  # Edit > Confirm stack label, enabled while files wait

    def use_current_frame(self, ask: bool = True) -> bool:
        """Make the current frame's contours the stack's shared label (asks before hiding per-frame labels)."""
        w = self.window
        img = w.image
        if img is None or w.document is None or img.frames <= 1:
            w.status.error("Use as stack label needs a stack (an image with several frames) open.")
            return False
        if w.session.is_shared(img.path, img.frames):
            w.status.info("This stack already uses one label for every frame.")
            return False
        if self.pending is not None:
            w.status.error("Confirm the previous stack label (Edit > Confirm stack label) or undo it first.")
            return False
        labels = w.document.labels
        files = per_frame_files(img.path, img.frames)
        if ask:
            text = (f"The {len(labels)} contour(s) of frame {w.frame + 1} become the label of every frame of "
                    f"{img.path.name}.\n\nThe {len(files)} per-frame label file(s) will be hidden: they are "
                    f"kept in {REPLACED_FOLDER}/ beside the labels until you choose Edit > Confirm stack "
                    f"label, and Ctrl+Z brings them back.")
            answer = QMessageBox.question(w, "Use as stack label", text, QMessageBox.Yes | QMessageBox.No,
                                          QMessageBox.No)
            if answer != QMessageBox.Yes:
                return False
        w.tools.cancel()
        try:
            change = move_per_frame_aside(img.path, img.frames)
        except OSError as exc:
            w.status.error(f"Stack label not made: {exc}")
            return False
        doc, warning = w.session.document(img.path, img.shape, None)
        try:
            changed = doc.replace(labels)
        except LabelStoreError as exc:
            change.undo()
            w.status.error(f"Stack label not saved: {exc}")
            return False
        self.pending = _Pending(change, doc, doc.labels if changed else None)
        self._show(shared=True)
        self._enable()
        w.status.info(f"Frame {w.frame + 1}'s contours label the whole stack; {len(files)} per-frame file(s) "
                      "kept until Edit > Confirm stack label (Ctrl+Z restores them)")
        return True

    def can_undo(self) -> bool:
        """True while Ctrl+Z should undo the stack label (its document is shown and unchanged since)."""
        p = self.pending
        if p is None or self.window.document is not p.doc:
            return False
        return p.state is None or p.doc.labels is p.state

    def undo(self) -> bool:
        """Put the per-frame files back and the stack file as it was (one undo step)."""
        p = self.pending
        if p is None:
            return False
        if p.state is not None:
            p.doc.undo()
        blocked = p.change.undo()
        self.pending = None
        self._show(shared=False)
        self._enable()
        w = self.window
        if blocked:
            w.status.error(f"{len(blocked)} per-frame file(s) could not go back (a new file took their place); "
                           f"they are kept in {REPLACED_FOLDER}/")
        else:
            w.status.info("Per-frame labels restored")
        return True

    def confirm(self) -> int:
        """Edit > Confirm stack label: delete the per-frame files the stack label replaced."""
        if self.pending is None:
            return 0
        n = self.pending.change.confirm()
        self.pending = None
        self._enable()
        self.window.status.info(f"Deleted {n} replaced per-frame label file(s)")
        return n

    def _show(self, shared: bool) -> None:
        w = self.window
        w.session.set_shared(w.image.path, shared)
        w.frame_slider.set_stack(w.image.frames, w.frame, shared)
        w._attach_document()

    def _enable(self) -> None:
        if self.confirm_action is not None:
            self.confirm_action.setEnabled(self.pending is not None)
