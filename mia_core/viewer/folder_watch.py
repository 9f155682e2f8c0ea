"""A folder that lives: images added or removed show in the list, label files changed by others are noticed.

A QFileSystemWatcher watches the open folder and its label folder. Bursts of changes (a copy of
many files, an atomic write's temporary file and rename) are gathered for DEBOUNCE_MS and handled
once. A label file of the image on screen that another program changed is read again when this
session holds no edits of it; otherwise the window offers Reload / Keep mine / Later.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PyQt5.QtCore import QFileSystemWatcher, QObject, QTimer
from PyQt5.QtWidgets import QApplication, QMessageBox

from mia_core.label_store import LABEL_FOLDER, FileStamp, LabelStoreError, file_stamp
from mia_core.viewer.loader import FolderScanner
from mia_core.viewer.session import unedited

if TYPE_CHECKING:  # pragma: no cover - typing only
    from mia_core.document import LabelDocument
    from mia_core.viewer.window import MainWindow

#: Changes are handled this long after the last one of a burst.
DEBOUNCE_MS = 300


class FolderWatch(QObject):
    """Watches the window's folder; updates its image list and offers to reload changed labels."""

    def __init__(self, window: "MainWindow") -> None:
        super().__init__(window)
        self.w = window
        self.folder: Path | None = None
        self.watcher = QFileSystemWatcher(self)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DEBOUNCE_MS)
        self.timer.timeout.connect(self._handle)
        self.scanner = FolderScanner(self)  # checks added files without stopping the folder's first scan
        self.scanner.scanned.connect(window._scanned)
        self._images_dirty = False
        self._later: dict[Path, FileStamp | None] = {}  # "Later": not asked again for this version
        self.watcher.directoryChanged.connect(self._changed)

    def watch(self, folder: Path | None) -> None:
        """Watch ``folder`` (and its label folder) instead of the one before; None stops watching."""
        dirs = self.watcher.directories()
        if dirs:
            self.watcher.removePaths(dirs)
        self.timer.stop()
        self._later.clear()
        self.folder = Path(folder) if folder is not None else None
        if self.folder is not None:
            self.watcher.addPath(str(self.folder))
            self._watch_label_folder()

    def stop(self) -> None:
        """The window closes: no more checks."""
        self.watch(None)
        self.scanner.abandon()

    def _watch_label_folder(self) -> None:
        assert self.folder is not None
        labels = self.folder / LABEL_FOLDER
        if labels.is_dir() and str(labels) not in self.watcher.directories():
            self.watcher.addPath(str(labels))

    def _changed(self, path: str) -> None:
        if self.folder is not None and Path(path) == self.folder:
            self._images_dirty = True
        self.timer.start()  # (re)start: a burst is handled once, after it

    def _handle(self) -> None:
        if self.folder is None:
            return
        if QApplication.activeModalWidget() is not None:  # a question is open: ask nothing now
            self.timer.start()
            return
        self._watch_label_folder()  # made by the first label saved
        if self._images_dirty:
            self._images_dirty = False
            self._update_images()
        self.w.image_list.refresh_all_labelled()
        self.check_current()

    def _update_images(self) -> None:
        from mia_core.images import ImageReadError, list_images

        assert self.folder is not None
        try:
            paths = list_images(self.folder)
        except (ImageReadError, OSError):
            return  # the folder itself went away or cannot be read: leave the list as it is
        added, removed = self.w.image_list.update_images(self.folder, paths)
        if not added and not removed:
            return
        self.w._grey_label_clashes(paths)
        if added:
            self.scanner.start([p for p in added if p not in self.w._label_clashes])
        parts = [f"{len(added)} image(s) added ({_names(added)})"] if added else []
        parts += [f"{len(removed)} removed ({_names(removed)})"] if removed else []
        self.w.status.info("Folder changed: " + ", ".join(parts))
        image = self.w.image
        if image is not None and image.path in removed:
            self.w.loader.cancel()
            self.w.tools.cancel()
            self.w._clear_image()
            self.w.canvas.set_message(f"{image.path.name} was removed from the folder.")

    def check_current(self) -> None:
        """The label file of the image on screen changed on disk: read it again, or ask."""
        doc = self.w.document
        if doc is None or not doc.disk_changed():
            return
        if unedited(doc):
            self.w._attach_document()  # nothing of the user's: show the file as it is now
            self.w.status.info(f"{doc.path.name} changed on disk and was read again")
            return
        stamp = file_stamp(doc.path)
        if self._later.get(doc.path, ()) == stamp:
            return
        choice = self.ask(doc)
        try:
            if choice == "reload":
                doc.reload()
                self.w.status.info(f"Reloaded {doc.path.name} from disk; Ctrl+Z brings your labels back")
            elif choice == "keep":
                doc.keep_mine()
                self.w.status.info(f"Your labels were written over {doc.path.name}")
            else:
                self._later[doc.path] = stamp
                self.w.status.info(f"{doc.path.name} changed on disk; your next edit asks again")
        except LabelStoreError as exc:
            self.w.status.error(f"Labels not saved: {exc}")

    def ask(self, doc: "LabelDocument") -> str:
        """Reload / Keep mine / Later, for a label file another program changed."""
        box = QMessageBox(
            QMessageBox.Question, "Labels changed on disk",
            f"{doc.path.name} was changed on disk (by another program, a mia command or a colleague) "
            "while you work on it here.\n\nReload shows the labels on disk (Ctrl+Z brings yours back). "
            "Keep mine writes the labels shown here over the file. Later leaves both as they are; your "
            "next edit asks again.",
            parent=self.w,
        )
        box.setObjectName("labelsChangedOnDisk")
        reload = box.addButton("Reload", QMessageBox.AcceptRole)
        keep = box.addButton("Keep mine", QMessageBox.DestructiveRole)
        later = box.addButton("Later", QMessageBox.RejectRole)
        box.setDefaultButton(reload)
        box.setEscapeButton(later)
        box.exec_()
        clicked = box.clickedButton()
        return "reload" if clicked is reload else "keep" if clicked is keep else "later"


def _names(paths: list[Path], most: int = 3) -> str:
    names = [p.name for p in paths[:most]]
    return ", ".join(names) + (f" and {len(paths) - most} more" if len(paths) > most else "")
