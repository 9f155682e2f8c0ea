"""``mia labels import-masks``: binary 0/max masks, ``--class-map``, classes mia cannot represent."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile

from mia_core import cli
from mia_core.label_store import label_path, load_labels, save_labels
from mia_core.labels import Contour, LabelSet

H, W = 40, 50


def _mia(*argv: str | Path) -> int:
    return cli.main([str(a) for a in argv])


def _folders(tmp_path: Path) -> tuple[Path, Path]:
    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    cv2.imwrite(str(images / "a.png"), np.full((H, W), 100, np.uint8))
    return images, masks


def _regions(values: tuple[int, ...], dtype) -> np.ndarray:
    mask = np.zeros((H, W), dtype)
    for i, v in enumerate(values):
        mask[5 : 15, 5 + 15 * i : 15 + 15 * i] = v
    return mask


@pytest.mark.parametrize("dtype, top", [(np.uint16, 65535), (np.uint8, 255)])
def test_binary_zero_max_mask_is_class_1_and_exports(tmp_path: Path, dtype, top: int) -> None:
    images, masks = _folders(tmp_path)
    mask = _regions((top, top), dtype)
    tifffile.imwrite(masks / "a.tif", mask)
    assert _mia("labels", "import-masks", images, "--masks", masks) == 0
    labels = load_labels(label_path(images / "a.png"))
    assert labels.class_ids() == [1]
    np.testing.assert_array_equal(labels.to_class_map((H, W)) == 1, mask == top)
    # Before, a 0/65535 import succeeded and export-masks then died with OverflowError.
    assert _mia("labels", "export-masks", images, "--out", tmp_path / "out") == 0
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "out" / "a.tif"), (mask == top).astype(np.uint16))


def test_class_map_maps_mask_values_to_classes(tmp_path: Path) -> None:
    images, masks = _folders(tmp_path)
    mask = _regions((255, 128, 40000), np.uint16)
    tifffile.imwrite(masks / "a.tif", mask)
    assert _mia("labels", "import-masks", images, "--masks", masks,
                "--class-map", "255=1, 128=2,40000=3") == 0
    class_map = load_labels(label_path(images / "a.png")).to_class_map((H, W))
    expected = np.select([mask == 255, mask == 128, mask == 40000], [1, 2, 3], -1)
    np.testing.assert_array_equal(class_map, expected)


def test_values_the_class_map_does_not_name_are_refused(tmp_path: Path, capsys) -> None:
    images, masks = _folders(tmp_path)
    tifffile.imwrite(masks / "a.tif", _regions((255, 77), np.uint8))
    assert _mia("labels", "import-masks", images, "--masks", masks, "--class-map", "255=1") == 1
    err = capsys.readouterr().err
    assert "a.png" in err and "77" in err and "--class-map" in err
    assert not label_path(images / "a.png").exists()


def test_a_class_mia_cannot_represent_is_refused_at_import(tmp_path: Path, capsys) -> None:
    images, masks = _folders(tmp_path)
    tifffile.imwrite(masks / "a.tif", _regions((1, 40000), np.uint16))
    assert _mia("labels", "import-masks", images, "--masks", masks) == 1
    err = capsys.readouterr().err
    assert "40000" in err and "32767" in err and "--class-map 40000=" in err
    assert not label_path(images / "a.png").exists()


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--class-map", "255"], "VALUE=CLASS"),
        (["--class-map", "255=40000"], "at most 32767"),
        (["--class-map", "70000=1"], "VALUE=CLASS"),
        (["--class-map", "255=1,255=2"], "mapped twice"),
        (["--class-map", "255=1", "--instances"], "--class-map applies to class masks"),
        (["--class-map", "0=1"], "--unlabelled"),
        (["--class-id", "40000"], "at most 32767"),
    ],
)
def test_bad_class_options_are_usage_errors(tmp_path: Path, capsys, argv: list[str], needle: str) -> None:
    images, masks = _folders(tmp_path)
    tifffile.imwrite(masks / "a.tif", _regions((255,), np.uint8))
    try:
        code = _mia("labels", "import-masks", images, "--masks", masks, *argv)
    except SystemExit as exc:  # argparse refuses the option itself
        code = exc.code
    assert code == 2
    assert needle in capsys.readouterr().err
    assert not label_path(images / "a.png").exists()


def test_export_reports_a_bad_label_file_and_goes_on(tmp_path: Path, capsys) -> None:
    images, _ = _folders(tmp_path)
    cv2.imwrite(str(images / "b.png"), np.full((H, W), 100, np.uint8))
    save_labels(label_path(images / "b.png"), LabelSet([Contour(2, [[5, 5], [20, 5], [20, 20]])], (H, W)))
    bad = label_path(images / "a.png")
    arrays = {"arr_0": np.array(12345678910), "arr_1": np.array([1, 0]),
              "arr_2": np.array([[[5, 5]], [[2**33, 5]], [[5, 9]]], dtype=np.int64), "arr_3": np.zeros((0, 1, 2))}
    np.savez(bad, **arrays)
    assert _mia("labels", "export-masks", images, "--out", tmp_path / "out") == 1
    captured = capsys.readouterr()
    assert "a.png" in captured.err and "above the largest allowed" in captured.err
    assert (tmp_path / "out" / "b.tif").exists() and not (tmp_path / "out" / "a.tif").exists()


def _two_images(tmp_path: Path) -> tuple[Path, Path]:
    images, masks = _folders(tmp_path)
    cv2.imwrite(str(images / "b.png"), np.full((H, W), 90, np.uint8))
    tifffile.imwrite(masks / "a.tif", _regions((1,), np.uint8))
    tifffile.imwrite(masks / "b.tif", np.zeros((H, W), np.uint8))
    return images, masks


def test_empty_mask_beside_labelled_ones_becomes_background(tmp_path: Path, capsys) -> None:
    images, masks = _two_images(tmp_path)
    assert _mia("labels", "import-masks", images, "--masks", masks) == 0
    out = capsys.readouterr().out
    b = load_labels(label_path(images / "b.png"))
    # Every pixel of the empty mask is labelled class 0: a negative example, not an unlabelled image.
    np.testing.assert_array_equal(b.to_class_map((H, W)), np.zeros((H, W), np.int16))
    assert load_labels(label_path(images / "a.png")).class_ids() == [1]
    assert "1 empty mask(s)/frame(s) written as background" in out


def test_skip_empty_keeps_empty_masks_unlabelled(tmp_path: Path, capsys) -> None:
    images, masks = _two_images(tmp_path)
    save_labels(label_path(images / "b.png"), LabelSet([Contour(2, np.array([[1, 1], [9, 1], [9, 9]]))]))
    assert _mia("labels", "import-masks", images, "--masks", masks, "--skip-empty", "--force") == 0
    assert not label_path(images / "b.png").exists()  # --force with an empty mask removes the old file
    assert "left without labels (--skip-empty)" in capsys.readouterr().out


def test_all_masks_empty_write_nothing(tmp_path: Path, capsys) -> None:
    images, masks = _folders(tmp_path)
    tifffile.imwrite(masks / "a.tif", np.zeros((H, W), np.uint8))
    assert _mia("labels", "import-masks", images, "--masks", masks) == 0
    assert not label_path(images / "a.png").exists()
    assert "left without labels (no mask holds labels)" in capsys.readouterr().out
