"""Asks before the *One label for the whole stack* switch hides labels: the stack's per-frame
labels and its shared label are separate files, and only one kind shows at a time."""

from __future__ import annotations

from typing import Any

from PyQt5.QtWidgets import QMessageBox, QWidget

from mia_core.label_store import label_path


def _has_labels(session: Any, image: Any, frame: int | None) -> bool:
    """Whether a frame's (or the shared) label holds contours: the open document, else its file."""
    doc = session.docs.get((image.path, frame))
    if doc is not None:
        return not doc.labels.is_empty
    return label_path(image.path, frame).exists()


def hidden_labels(session: Any, image: Any, shared: bool) -> int:
    """How many label files the switch to ``shared`` would hide (frames, or 1 for the shared label)."""
    if shared:
        return sum(_has_labels(session, image, f) for f in range(image.frames))
    return int(_has_labels(session, image, None))


def ask_switch_stack_labels(parent: QWidget, session: Any, image: Any, shared: bool) -> bool:
    """True to go on: nothing would be hidden, or the user agreed; False when the user cancels."""
    count = hidden_labels(session, image, shared)
    if count == 0:
        return True
    name = image.path.name
    if shared:
        text = (f"{count} frame(s) of {name} have their own labels. With one label for the whole stack they "
                "are hidden (their files stay on disk, and unticking the switch shows them again).")
    else:
        text = (f"{name} has one label for the whole stack. With a label per frame it is hidden (its file "
                "stays on disk, and ticking the switch again shows it).")
    box = QMessageBox(QMessageBox.Question, "One label for the whole stack", text + "\n\nSwitch anyway?",
                      QMessageBox.Cancel, parent)
    box.setObjectName("stackLabelsQuestion")
    switch = box.addButton("Switch", QMessageBox.AcceptRole)
    box.setDefaultButton(QMessageBox.Cancel)
    box.exec_()
    return box.clickedButton() is switch
