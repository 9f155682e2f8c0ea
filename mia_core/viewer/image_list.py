"""The image list of the open folder: label status per image, unreadable files greyed out with why."""

from __future__ import annotations

import re
from pathlib import Path

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtGui import QBrush, QColor, QIcon, QPainter, QPixmap
from PyQt5.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from mia_core.label_store import LABEL_FOLDER, label_path

LABELLED, UNLABELLED, UNREADABLE = "labelled", "unlabelled", "unreadable"
_PATH, _STATE, _REASON, _FRAMES = Qt.UserRole, Qt.UserRole + 1, Qt.UserRole + 2, Qt.UserRole + 3
_SHORT = Qt.UserRole + 4  # the few words shown beside a greyed-out name


def status_icon(state: str, size: int = 12) -> QIcon:
    """Filled green dot: labelled; hollow dot: not yet; red cross: cannot be read."""
    pix = QPixmap(size, size)
    pix.fill(Qt.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.Antialiasing)
    if state == LABELLED:
        p.setBrush(QColor("#34c759"))
        p.setPen(QColor("#1e7d38"))
        p.drawEllipse(1, 1, size - 2, size - 2)
    elif state == UNREADABLE:
        pen = p.pen()
        pen.setColor(QColor("#ff453a"))
        pen.setWidth(2)
        p.setPen(pen)
        p.drawLine(2, 2, size - 3, size - 3)
        p.drawLine(2, size - 3, size - 3, 2)
    else:
        p.setPen(QColor("#8e8e93"))
        p.drawEllipse(1, 1, size - 2, size - 2)
    p.end()
    return QIcon(pix)


_FRAME_FILE = re.compile(r"^(.*)_frame\d{4,}$")


def labelled_images(paths: list[Path]) -> set[Path]:
    """Images that have a label file (whole image, whole stack, or any frame); one folder listing.

    Linear in the images and label files, so the folder watch can call it after every change.
    """
    if not paths:
        return set()
    folder = paths[0].parent / LABEL_FOLDER
    try:
        stems = {p.name[: -len(".npz")] for p in folder.iterdir() if p.suffix == ".npz"}
    except OSError:
        return set()
    stems |= {m.group(1) for m in map(_FRAME_FILE.match, list(stems)) if m}
    return {path for path in paths if label_path(path).stem in stems}


class ImageList(QWidget):
    """The images of a folder; selecting one opens it (PageDown / PageUp step through them)."""

    imageSelected = pyqtSignal(object)  # Path

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel("Images")
        self.list = QListWidget()
        self.list.setObjectName("imageList")
        self.list.setFocusPolicy(Qt.ClickFocus)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.list)
        self.list.currentItemChanged.connect(self._current_changed)
        self._items: dict[Path, QListWidgetItem] = {}

    def set_images(self, folder: Path, paths: list[Path]) -> None:
        """Fill the list (no selection yet) with each image's label status."""
        self.list.blockSignals(True)
        self.list.clear()
        self._items = {}
        labelled = labelled_images(paths)
        for path in paths:
            item = QListWidgetItem(path.name)
            item.setData(_PATH, str(path))
            self.list.addItem(item)
            self._items[path] = item
            self._style(item, LABELLED if path in labelled else UNLABELLED)
        self.list.blockSignals(False)
        self.title.setText(f"{folder.name or folder} — {len(paths)} image(s)")

    def update_images(self, folder: Path, paths: list[Path]) -> tuple[list[Path], list[Path]]:
        """Add new images and drop removed ones in place (the selection and states stay); (added, removed)."""
        wanted = set(paths)
        removed = [p for p in self._items if p not in wanted]
        added = [p for p in paths if p not in self._items]
        if not added and not removed:
            return [], []
        self.list.blockSignals(True)
        for path in removed:
            self.list.takeItem(self.list.row(self._items.pop(path)))
        labelled = labelled_images(added)
        for path in added:
            item = QListWidgetItem(path.name)
            item.setData(_PATH, str(path))
            self._items[path] = item
            self._style(item, LABELLED if path in labelled else UNLABELLED)
        for row, path in enumerate(paths):  # keep the folder's order
            item = self._items[path]
            if self.list.row(item) != row:
                if self.list.row(item) >= 0:
                    self.list.takeItem(self.list.row(item))
                self.list.insertItem(row, item)
        self._items = {p: self._items[p] for p in paths}
        self.list.blockSignals(False)
        self.title.setText(f"{folder.name or folder} — {len(paths)} image(s)")
        return added, removed

    def refresh_all_labelled(self) -> None:
        """Look at the label folder again for every image (one listing)."""
        labelled = labelled_images(self.paths)
        for path in self._items:
            self.set_labelled(path, path in labelled)

    @property
    def paths(self) -> list[Path]:
        """The listed images, in order."""
        return list(self._items)

    def current_path(self) -> Path | None:
        """The selected image."""
        item = self.list.currentItem()
        return Path(item.data(_PATH)) if item is not None else None

    def select(self, path: Path) -> bool:
        """Select (and so open) an image; False when it is not listed."""
        item = self._items.get(Path(path))
        if item is None:
            return False
        self.list.setCurrentItem(item)
        return True

    def step(self, delta: int) -> None:
        """Next (+1) or previous (-1) image, stopping at the ends."""
        if not self._items:
            return
        row = min(max(self.list.currentRow() + delta, 0), self.list.count() - 1)
        self.list.setCurrentRow(row)

    def state(self, path: Path) -> str | None:
        """LABELLED, UNLABELLED or UNREADABLE."""
        item = self._items.get(Path(path))
        return item.data(_STATE) if item is not None else None

    def reason(self, path: Path) -> str | None:
        """Why an unreadable image cannot be read."""
        item = self._items.get(Path(path))
        return item.data(_REASON) if item is not None else None

    def set_labelled(self, path: Path, labelled: bool) -> None:
        """Update one image's label status (after an edit)."""
        item = self._items.get(Path(path))
        if item is not None and item.data(_STATE) != UNREADABLE:
            self._style(item, LABELLED if labelled else UNLABELLED)

    def refresh_labelled(self, path: Path) -> None:
        """Look at the disk again for one image's label files."""
        self.set_labelled(path, path in labelled_images([Path(path)]))

    def set_unreadable(self, path: Path, reason: str, short: str = "cannot be read") -> None:
        """Grey out an image that cannot be read (or opened), with the reason in the text and tooltip."""
        item = self._items.get(Path(path))
        if item is not None:
            item.setData(_SHORT, short)
            self._style(item, UNREADABLE, reason)

    def set_frames(self, path: Path, frames: int) -> None:
        """Show the frame count of a stack beside its name."""
        item = self._items.get(Path(path))
        if item is not None:
            item.setData(_FRAMES, int(frames))
            self._style(item, item.data(_STATE), item.data(_REASON))

    def _style(self, item: QListWidgetItem, state: str, reason: str | None = None) -> None:
        item.setData(_STATE, state)
        item.setData(_REASON, reason)
        item.setIcon(status_icon(state))
        name = Path(item.data(_PATH)).name
        if state == UNREADABLE:
            short = item.data(_SHORT) or "cannot be read"
            item.setText(f"{name} — {short}")
            item.setForeground(QBrush(QColor("#8e8e93")))
            item.setToolTip(f"{name} {short}: {reason}")
        else:
            frames = item.data(_FRAMES) or 1
            item.setText(f"{name}  ({frames} frames)" if frames > 1 else name)
            item.setForeground(QBrush())
            item.setToolTip(f"{name}: {'labelled' if state == LABELLED else 'not labelled yet'}")

    def _current_changed(self, current: QListWidgetItem | None, _previous: object) -> None:
        if current is not None:
            self.imageSelected.emit(Path(current.data(_PATH)))
