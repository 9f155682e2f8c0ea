"""Batch commands take the label folder's write lock; first-contact mistakes get CLI answers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

from mia_core import cli
from mia_core.folder_lock import LOCK_NAME, FolderBusyError, label_folder_lock
from mia_core.label_store import LABEL_FOLDER, label_path

H, W = 32, 40


def _images(folder: Path, names=("cells", "nuclei")) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        cv2.imwrite(str(folder / f"{name}.png"), np.full((H, W), 30, np.uint8))
    return folder


def _masks(folder: Path, names=("cells", "nuclei")) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        mask = np.zeros((H, W), np.uint8)
        mask[5:20, 5:25] = 1
        cv2.imwrite(str(folder / f"{name}.png"), mask)
    return folder


def _mia(*argv) -> int:
    return cli.main([str(a) for a in argv])


@pytest.fixture
def holder(tmp_path: Path):
    """Start another process that holds the write lock of a folder until it is stopped."""
    procs = []

    def hold(folder: Path) -> subprocess.Popen:
        code = textwrap.dedent(f"""
            import sys
            from mia_core.folder_lock import label_folder_lock
            with label_folder_lock({str(folder)!r}, "mia labels import-masks") as lock:
                print("held" if lock.held else "not held", flush=True)
                sys.stdin.read()
        """)
        proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                text=True)
        procs.append(proc)
        assert proc.stdout.readline().strip() == "held"
        return proc

    yield hold
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def test_a_second_import_while_another_writes_the_folder_says_busy_and_writes_nothing(tmp_path, holder, capsys):
    images, masks = _images(tmp_path / "img"), _masks(tmp_path / "masks")
    other = holder(images)
    assert _mia("labels", "import-masks", images, "--masks", masks) == 2
    err = capsys.readouterr().err
    assert f"mia labels import-masks: {images / LABEL_FOLDER} is busy" in err
    assert f"mia labels import-masks pid {other.pid}" in err  # who holds it
    assert not label_path(images / "cells.png").exists()
    other.communicate("")  # the other command ends: the folder is free again
    assert _mia("labels", "import-masks", images, "--masks", masks) == 0
    assert label_path(images / "cells.png").exists()


def test_a_killed_writer_leaves_no_stale_lock(tmp_path, holder):
    images = _images(tmp_path / "img")
    other = holder(images)
    with pytest.raises(FolderBusyError):
        with label_folder_lock(images, "test"):
            pass
    os.kill(other.pid, signal.SIGKILL)
    other.wait(10)
    with label_folder_lock(images, "test") as lock:
        assert lock.held
    assert (images / LABEL_FOLDER / LOCK_NAME).exists()  # the folder existed: the lock file stays


def test_predict_is_a_batch_writer_too(tmp_path, holder, capsys):
    images = _images(tmp_path / "img")
    model = tmp_path / "model"
    model.mkdir()
    holder(images)
    assert _mia("predict", model, images) == 2
    err = capsys.readouterr().err
    assert "mia predict: " in err and "is busy" in err


def test_swapped_predict_arguments_are_noticed(tmp_path, capsys):
    images = _images(tmp_path / "img")
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    assert _mia("predict", images, model) == 2
    err = capsys.readouterr().err
    assert f"FOLDER {model} is a model folder" in err and "arguments look swapped" in err
    assert f"mia predict {model} {images}" in err
    assert not (model / LABEL_FOLDER).exists() and not (images / LABEL_FOLDER).exists()


def test_a_missing_masks_folder_names_the_option(tmp_path, capsys):
    images = _images(tmp_path / "img")
    assert _mia("labels", "import-masks", images, "--masks", tmp_path / "nosuch") == 2
    assert capsys.readouterr().err.strip() == f"mia labels import-masks: --masks folder {tmp_path / 'nosuch'} not found"


def test_masks_that_differ_by_a_suffix_fail_with_a_hint(tmp_path, capsys):
    images = _images(tmp_path / "img")
    masks = _masks(tmp_path / "masks", names=("cells_mask", "nuclei_mask"))
    assert _mia("labels", "import-masks", images, "--masks", masks) == 1
    err = capsys.readouterr().err
    assert "try --mask-suffix _mask" in err
    assert not (images / LABEL_FOLDER).exists()
    assert _mia("labels", "import-masks", images, "--masks", masks, "--mask-suffix", "_m") == 1
    assert "try --mask-suffix _mask (given: --mask-suffix '_m')" in capsys.readouterr().err
    assert _mia("labels", "import-masks", images, "--masks", masks, "--mask-suffix", "_mask") == 0
    assert label_path(images / "nuclei.png").exists()


def test_help_usage_shows_the_folder(capsys):
    with pytest.raises(SystemExit):
        _mia("--help")
    usage = capsys.readouterr().out.split("\n\n")[0]
    assert "mia [-h] [--disable NAME] [FOLDER]" in usage and "COMMAND" in usage
