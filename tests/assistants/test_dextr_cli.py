"""``mia dextr train``: bad flags and folders are refused by name; labelled frames are collected."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from mia_core.assist import labelled_pictures
from mia_core.cli import main
from mia_core.label_store import label_path, save_labels
from mia_core.labels import LabelSet


def labelled_folder(tmp_path: Path, with_labels: bool = True) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir()
    img = np.random.default_rng(0).integers(0, 255, (64, 80), dtype=np.uint8)
    cv2.imwrite(str(folder / "a.png"), img)
    cv2.imwrite(str(folder / "b.png"), img)
    if with_labels:
        square = [(10, 10), (30, 10), (30, 30), (10, 30)]
        save_labels(label_path(folder / "a.png"), LabelSet((), (64, 80)).add_polygon(square, 1))
    return folder


def test_labelled_pictures_reads_only_labelled_frames(tmp_path: Path) -> None:
    folder = labelled_folder(tmp_path)
    (folder / "Segmentation_labels" / "b.npz").write_bytes(b"broken")  # a damaged label file
    pairs, skipped = labelled_pictures([folder])
    assert len(pairs) == 1
    picture, labels = pairs[0]
    assert picture.shape == (64, 80, 3) and picture.dtype == np.uint8 and len(labels) == 1
    assert len(skipped) == 1 and "b.png" in skipped[0]


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--input-size", "100"], "--input-size"), (["--steps", "0"], "--steps")],
)
def test_bad_flags_are_named(tmp_path: Path, capsys, extra, message) -> None:
    folder = labelled_folder(tmp_path)
    assert main(["dextr", "train", str(folder), "--out", str(tmp_path / "m"), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_missing_folder_and_no_labels_are_refused(tmp_path: Path, capsys) -> None:
    assert main(["dextr", "train", str(tmp_path / "nope"), "--out", str(tmp_path / "m")]) == 2
    assert "nope is not a folder" in capsys.readouterr().err
    folder = labelled_folder(tmp_path, with_labels=False)
    assert main(["dextr", "train", str(folder), "--out", str(tmp_path / "m")]) == 2
    assert "no labelled contours" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
