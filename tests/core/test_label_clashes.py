"""Images whose label files would be one file are refused, named together, by every command."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import tifffile

from mia_core import cli
from mia_core.engine.dataset import load_labelled_images
from mia_core.label_clashes import header_frames, label_clashes
from mia_core.label_store import label_path, load_labels, save_labels
from mia_core.labels import Contour, LabelSet

H, W = 32, 40


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("one.png", "ok.png", "a_frame0001.png", "b_frame0007.png", "a_frame00002.png"):
        cv2.imwrite(str(folder / name), np.full((H, W), 90, np.uint8))
    tifffile.imwrite(folder / "one.tif", np.zeros((H, W), np.uint8))
    tifffile.imwrite(folder / "a.tif", np.zeros((3, H, W), np.uint8), photometric="minisblack")
    tifffile.imwrite(folder / "b.tif", np.zeros((3, H, W), np.uint8), photometric="minisblack")  # no frame 7
    return folder


def test_same_stem_and_frame_names_clash_and_name_both_files(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    images = sorted(folder.iterdir())
    clashes = label_clashes(images, header_frames)
    assert sorted(p.name for p in clashes) == ["a.tif", "a_frame0001.png", "one.png", "one.tif"]
    assert "one.png and one.tif" in clashes[folder / "one.png"]
    assert "Segmentation_labels/one.npz" in clashes[folder / "one.tif"]
    reason = clashes[folder / "a.tif"]
    assert "a_frame0001.png and frame 1 of a.tif" in reason and "a_frame0001.npz" in reason
    # Without frame counts a possible stack is assumed to have the frame.
    assert folder / "b.tif" in label_clashes(images)


def _mask_folder(tmp_path: Path, folder: Path) -> Path:
    masks = tmp_path / "masks"
    masks.mkdir()
    mask = np.zeros((H, W), np.uint8)
    mask[5:15, 5:15] = 1
    for image in folder.iterdir():
        if image.is_file():
            cv2.imwrite(str(masks / f"{image.stem}.png"), mask)
    (masks / "one.png").unlink()
    cv2.imwrite(str(masks / "one.bmp"), mask)
    return masks


def test_import_and_export_name_both_files_and_skip_them(tmp_path: Path, capsys) -> None:
    folder = _folder(tmp_path)
    masks = _mask_folder(tmp_path, folder)
    (masks / "a.png").unlink()
    assert cli.main(["labels", "import-masks", str(folder), "--masks", str(masks)]) == 1
    err = capsys.readouterr().err
    assert "one.png: FAILED: one.png and one.tif would share" in err
    assert "one.tif: FAILED: one.png and one.tif would share" in err
    assert "a_frame0001.png: FAILED: a_frame0001.png and frame 1 of a.tif" in err
    assert not label_path(folder / "one.png").exists() and not label_path(folder / "a_frame0001.png").exists()
    assert load_labels(label_path(folder / "ok.png")).class_ids() == [1]  # the others are imported
    assert load_labels(label_path(folder / "b_frame0007.png")).class_ids() == [1]

    save_labels(label_path(folder / "one.png"), LabelSet([Contour(1, [[2, 2], [9, 2], [9, 9]])], (H, W)))
    assert cli.main(["labels", "export-masks", str(folder), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "one.tif: FAILED: one.png and one.tif would share" in err
    assert not (tmp_path / "out" / "one.tif").exists() and (tmp_path / "out" / "ok.tif").exists()


def test_training_skips_clashing_images_with_a_warning(tmp_path: Path, caplog) -> None:
    folder = _folder(tmp_path)
    square = LabelSet([Contour(1, [[2, 2], [20, 2], [20, 20], [2, 20]])], (H, W))
    for name in ("one.png", "ok.png"):
        save_labels(label_path(folder / name), square)
    with caplog.at_level(logging.WARNING, logger="mia"):
        samples = load_labelled_images(folder)
    assert [s.path.name for s in samples] == ["ok.png"]
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "one.png: skipped, one.png and one.tif would share" in text
