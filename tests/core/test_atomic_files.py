"""Atomic writes: file modes follow the umask (or the replaced file), stale temporaries are swept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from mia_core import atomic
from mia_core.atomic import STALE_AFTER_S, atomic_path, atomic_write_bytes, remove_stale_temps
from mia_core.label_store import label_path, save_labels
from mia_core.labels import Contour, LabelSet

LABELS = LabelSet([Contour(1, [[1, 1], [8, 1], [8, 8]])], (10, 10))


@pytest.fixture
def umask():
    previous = os.umask(0o022)
    try:
        yield lambda value: os.umask(value)
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.mark.parametrize("mask, expected", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_new_files_get_the_umask_mode(tmp_path: Path, umask, mask: int, expected: int) -> None:
    umask(mask)
    save_labels(tmp_path / "a.npz", LABELS)
    atomic_write_bytes(tmp_path / "weights.msgpack", b"w")
    with atomic_path(tmp_path / "mask.tif") as tmp:
        tmp.write_bytes(b"t")
    assert [_mode(tmp_path / n) for n in ("a.npz", "weights.msgpack", "mask.tif")] == [expected] * 3


def test_a_rewritten_file_keeps_its_mode(tmp_path: Path, umask) -> None:
    save_labels(tmp_path / "a.npz", LABELS)
    os.chmod(tmp_path / "a.npz", 0o640)
    save_labels(tmp_path / "a.npz", LABELS.with_shape((20, 20)))
    assert _mode(tmp_path / "a.npz") == 0o640


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_stale_temporaries_are_removed_on_the_next_write_fresh_ones_stay(tmp_path: Path) -> None:
    folder = tmp_path / "Segmentation_labels"
    folder.mkdir()
    (folder / "one.npz").write_bytes(b"x")
    (folder / "config.json").write_bytes(b"{}")
    stale = folder / ".one.0123456789abcdef.mia-tmp.npz"
    legacy = folder / ".one.k2j_x9ab.npz"  # tempfile.mkstemp's name for a replace of one.npz
    fresh = folder / ".two.fedcba9876543210.mia-tmp.npz"  # another writer's file, still being written
    keep = [folder / ".hidden.npz", folder / ".lonely.k2j_x9ab.npz", folder / "notes.txt",
            folder / ".config.settings.json"]  # looks like a legacy name but has no digit: a user's file
    for p in [stale, legacy, fresh, *keep]:
        p.write_bytes(b"partial")
    for p in [stale, legacy, *keep]:
        _age(p, STALE_AFTER_S + 60)
    _age(fresh, STALE_AFTER_S - 600)
    save_labels(folder / "three.npz", LABELS)
    assert not stale.exists() and not legacy.exists()
    assert fresh.exists() and all(p.exists() for p in keep)
    assert sorted(p.name for p in folder.iterdir() if p.name.endswith(".mia-tmp.npz")) == [fresh.name]


def test_a_killed_write_leaves_a_temporary_that_a_later_write_removes(tmp_path: Path) -> None:
    code = (
        "import sys, time\n"
        "from mia_core.atomic import atomic_open\n"
        "with atomic_open(sys.argv[1]) as fh:\n"
        "    fh.write(b'half'); fh.flush(); print('writing', flush=True); time.sleep(60)\n"
    )
    target = tmp_path / "weights.msgpack"
    proc = subprocess.Popen([sys.executable, "-c", code, str(target)], stdout=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"writing\n"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    left = [p for p in tmp_path.iterdir() if p.name.startswith(".weights.")]
    assert len(left) == 1 and not target.exists()
    assert remove_stale_temps(tmp_path) == []  # too young: it might still be someone's write
    _age(left[0], STALE_AFTER_S + 1)
    atomic._swept.clear()
    atomic_write_bytes(tmp_path / "other.bin", b"o")
    assert not left[0].exists() and (tmp_path / "other.bin").read_bytes() == b"o"


def test_label_files_through_the_store_leave_no_temporary(tmp_path: Path) -> None:
    path = label_path(tmp_path / "a.png")
    save_labels(path, LABELS)
    assert [p.name for p in path.parent.iterdir()] == ["a.npz"]
    assert np.load(path)["mia_format"] == 1
