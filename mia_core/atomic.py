"""Atomic file writes: a temporary file in the target folder, synced, then renamed over the target.

An interrupted write (full disk, crash, exception) leaves the previous file intact and no temporary
file behind; everything mia writes for the user goes through here. A write killed outright
(kill -9, power loss) can leave its temporary file; the next write to that folder removes it once
it is clearly stale. New files get the process umask's mode; a replaced file keeps its mode.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import time
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

#: A temporary file untouched for this long belongs to a write that was killed (kill -9, power
#: loss): a live write touches its file continually and renames it within seconds.
STALE_AFTER_S = 6 * 3600.0
#: A folder is swept for stale temporary files at most this often per process.
_SWEEP_EVERY_S = 600.0
_TEMP_MARK = ".mia-tmp"
_TEMP_NAME = re.compile(r"^\..+\.[0-9a-f]{16}" + re.escape(_TEMP_MARK) + r"(\.[^.]*)?$")
# Names tempfile.mkstemp gave before the marker existed: ".<stem>.<8 chars><suffix>".
# At least one digit or underscore, so that no ordinary hidden name (".config.settings.json") matches.
_LEGACY_TEMP_NAME = re.compile(r"^\.(?P<stem>.+)\.(?=[a-z]*[0-9_])[a-z0-9_]{8}(?P<suffix>\.[^.]*)?$")
_swept: dict[str, float] = {}


def _new_temp(path: Path) -> Path:
    """Create an empty temporary file beside ``path``, with the mode a new file would get.

    ``tempfile.mkstemp`` makes files 0600 whatever the umask; ``os.open`` with 0666 lets the umask
    decide (0644 typically) so colleagues sharing a folder can read what mia writes. A file being
    replaced keeps its own mode.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = path.with_name(f".{path.stem}.{secrets.token_hex(8)}{_TEMP_MARK}{path.suffix}")
        try:
            fd = os.open(tmp, flags, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        try:
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))
        except OSError:
            pass  # no file to replace yet (or not ours to read): the umask's mode stands
        return tmp
    raise FileExistsError(f"cannot create a temporary file beside {path}")


def remove_stale_temps(folder: str | os.PathLike[str], max_age_s: float = STALE_AFTER_S) -> list[Path]:
    """Delete temporary files of writes that were killed in ``folder``; return what was removed.

    Only mia's temporary names are considered (and the older mkstemp names, when the file they
    were replacing exists), and only when untouched for ``max_age_s``, so a write still under way
    in another process is never disturbed.
    """
    folder = Path(folder)
    removed: list[Path] = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    names = {e.name for e in entries}
    for entry in entries:
        if not entry.name.startswith("."):
            continue
        legacy = _LEGACY_TEMP_NAME.match(entry.name)
        ours = _TEMP_NAME.match(entry.name) is not None
        if not ours and not (legacy and f"{legacy['stem']}{legacy['suffix'] or ''}" in names):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode) or now - info.st_mtime < max_age_s:
                continue
            os.unlink(entry.path)
        except OSError:
            continue
        removed.append(Path(entry.path))
    return removed


def _sweep_now_and_then(folder: Path) -> None:
    """Sweep a folder for stale temporary files, at most every few minutes (folders can be big)."""
    key = os.path.abspath(folder)
    now = time.monotonic()
    if now - _swept.get(key, -_SWEEP_EVERY_S) < _SWEEP_EVERY_S:
        return
    _swept[key] = now
    remove_stale_temps(folder)


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path for libraries that write by file name; renamed over ``path`` on success."""
    path = Path(path)
    _sweep_now_and_then(path.parent)
    tmp = _new_temp(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


@contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb", encoding: str | None = None) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on a clean exit it is synced and replaces ``path``."""
    with atomic_path(path) as tmp, open(tmp, mode, encoding=encoding) as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Replace a text file atomically (settings, configs)."""
    with atomic_open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace a binary file atomically (weights, caches)."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def keep_aside(path: str | os.PathLike[str]) -> Path | None:
    """Rename an unreadable file to ``<name>.corrupt-<time>`` so no later save replaces it."""
    path = Path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
        n += 1
    try:
        path.rename(target)
    except OSError:
        return None
    return target
