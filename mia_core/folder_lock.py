"""One batch writer per label folder: an advisory lock on ``Segmentation_labels/.mia-write.lock``.

Batch commands (``mia labels import-masks``, ``mia predict``) hold it while they write, so two of
them never leave an arbitrary mix of files; the second is refused at once. The app is not a batch
writer: it detects files changed behind it instead (:class:`mia_core.label_store.LabelConflictError`).

The lock is ``flock(2)``: released by the kernel when the process ends (kill -9 included), so it is
never stale. It binds only programs that take it (mia's commands), and on network shares it is as
good as the share's locking: see docs/architecture.md.
"""

from __future__ import annotations

import os
import socket
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from mia_core.label_store import LABEL_FOLDER

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = ".mia-write.lock"


class FolderBusyError(RuntimeError):
    """Another batch command holds the folder's write lock."""

    def __init__(self, folder: Path, holder: str) -> None:
        self.folder, self.holder = Path(folder), holder
        who = f" ({holder})" if holder else ""
        super().__init__(f"{folder} is busy: another mia command is writing labels there{who}; "
                         "wait for it to end and run this again")


@dataclass
class FolderLock:
    """What was taken: ``held`` is False where the file system offers no lock (``note`` says why)."""

    path: Path
    held: bool
    note: str = ""


@contextmanager
def label_folder_lock(image_folder: str | os.PathLike[str], command: str) -> Iterator[FolderLock]:
    """Hold the write lock of ``image_folder``'s label folder, or raise FolderBusyError at once."""
    folder = Path(image_folder) / LABEL_FOLDER
    created = not folder.exists()
    path = folder / LOCK_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:  # read-only folder: the writes themselves will say so
        fd, why = -1, f"no write lock ({exc.strerror or exc})"
    if fd < 0:
        yield FolderLock(path, False, why)
        return
    try:
        if fcntl is None:
            lock = FolderLock(path, False, "no write lock (this system has no flock)")
        else:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                lock = FolderLock(path, True)
            except BlockingIOError:
                raise FolderBusyError(folder, _holder(path)) from None
            except OSError as exc:  # e.g. ENOLCK on a share without lock support
                lock = FolderLock(path, False, f"no write lock ({exc.strerror or exc})")
        if lock.held:
            os.ftruncate(fd, 0)
            os.write(fd, f"{command} pid {os.getpid()} on {socket.gethostname()}\n".encode())
        try:
            yield lock
        finally:
            if lock.held:
                os.ftruncate(fd, 0)
            if created:  # leave no label folder behind where nothing was written
                _remove_if_only_lock(folder, path)
    finally:
        os.close(fd)  # releases the lock


def _holder(path: Path) -> str:
    """Who holds the lock, as its holder wrote it (best effort)."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip()[:200]
    except OSError:
        return ""


def _remove_if_only_lock(folder: Path, path: Path) -> None:
    try:
        if [p.name for p in folder.iterdir()] == [LOCK_NAME]:
            path.unlink()
            folder.rmdir()
    except OSError:
        pass
