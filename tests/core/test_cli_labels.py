"""``mia labels import-masks`` / ``export-masks``, driven through the ``mia`` command line."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image
from scipy import ndimage
from skimage import measure

from mia_core import cli
from mia_core.images import read_image
from mia_core.label_store import label_path, load_labels, save_labels
from mia_core.labels import LabelSet
from mia_core.raster import labels_from_class_map

H, W = 64, 80


def _class_mask(seed: int) -> np.ndarray:
    """Classes 1-3 with a ring (hole), an island of another class in the hole, touching regions."""
    rng = np.random.default_rng(seed)
    mask = np.zeros((H, W), np.uint8)
    cx, cy = 18 + int(rng.integers(0, 6)), 20 + int(rng.integers(0, 6))
    cv2.circle(mask, (cx, cy), 13, 1, -1)
    cv2.circle(mask, (cx, cy), 7, 0, -1)  # hole
    cv2.circle(mask, (cx, cy), 3, 2, -1)  # island of class 2 inside the hole
    cv2.rectangle(mask, (40, 8), (70, 40), 2, -1)
    cv2.rectangle(mask, (55, 30), (75, 58), 3, -1)  # touches the class-2 rectangle
    # scattered single pixels and a thin diagonal line
    mask[rng.integers(45, 63, 12), rng.integers(2, 30, 12)] = 3
    cv2.line(mask, (2, 2), (30, 40), 1, 1)
    return mask


def _instance_mask(seed: int) -> np.ndarray:
    """Blocky objects with scattered object numbers, several touching each other."""
    rng = np.random.default_rng(seed)
    ids = rng.choice(np.arange(1, 400), size=(8, 10), replace=True)
    ids[rng.random((8, 10)) < 0.3] = 0
    return ndimage.zoom(ids, 8, order=0)[:H, :W].astype(np.uint16)


def _write_image_folder(folder: Path) -> dict[str, int]:
    """Two single images and a 3-frame stack; returns image name -> frame count."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    cv2.imwrite(str(folder / "cells.png"), rng.integers(0, 255, (H, W), dtype=np.uint8))
    tifffile.imwrite(folder / "nuclei.tif", rng.integers(0, 65535, (H, W), dtype=np.uint16))
    tifffile.imwrite(folder / "movie.tif", rng.integers(0, 255, (3, H, W), dtype=np.uint8), photometric="minisblack")
    return {"cells.png": 1, "nuclei.tif": 1, "movie.tif": 3}


def _mia(*argv: str | Path) -> int:
    return cli.main([str(a) for a in argv])


@pytest.fixture
def labels_cli_class_masks(tmp_path: Path) -> tuple[Path, Path, dict[str, np.ndarray]]:
    """An image folder and a folder of class masks (png, bmp-free variety, multi-page tif)."""
    images, masks = tmp_path / "images", tmp_path / "masks"
    _write_image_folder(images)
    masks.mkdir()
    written = {
        "cells": _class_mask(1),
        "nuclei": _class_mask(2).astype(np.uint16),
        "movie": np.stack([_class_mask(3), np.zeros((H, W), np.uint8), _class_mask(4)]),
    }
    cv2.imwrite(str(masks / "cells.png"), written["cells"])
    tifffile.imwrite(masks / "nuclei.tiff", written["nuclei"])
    tifffile.imwrite(masks / "movie.tif", written["movie"], photometric="minisblack")
    return images, masks, written


# --- import --------------------------------------------------------------------------------------


def test_import_writes_one_contour_per_connected_region(labels_cli_class_masks, capsys) -> None:
    images, masks, written = labels_cli_class_masks
    assert _mia("labels", "import-masks", images, "--masks", masks) == 0
    output = capsys.readouterr().out
    labels = load_labels(label_path(images / "cells.png"))
    mask = written["cells"]
    # Independent count: 8-connected components of each class (scikit-image).
    expected = sum(measure.label(mask == c, connectivity=2).max() for c in (1, 2, 3))
    assert len(labels) == expected
    assert f"cells.png: cells.png -> cells.npz: {expected} contours" in output
    assert sorted({c.class_id for c in labels.contours}) == [1, 2, 3]
    class_map = labels.to_class_map((H, W))
    np.testing.assert_array_equal(np.where(class_map < 0, 0, class_map), mask)
    # The stack gave one file per frame; the empty middle frame is background (a negative example).
    assert label_path(images / "movie.tif", frame=0).exists()
    empty_frame = load_labels(label_path(images / "movie.tif", frame=1))
    assert empty_frame.class_ids() == [0]
    np.testing.assert_array_equal(empty_frame.to_class_map((H, W)), np.zeros((H, W)))
    assert "1 empty mask(s)/frame(s) written as background" in output
    assert label_path(images / "movie.tif", frame=2).exists()
    assert not label_path(images / "movie.tif").exists()
    assert "imported 3 masks" in output


def test_class_masks_round_trip(labels_cli_class_masks, tmp_path: Path, capsys) -> None:
    images, masks, written = labels_cli_class_masks
    assert _mia("labels", "import-masks", images, "--masks", masks) == 0
    out = tmp_path / "exported"
    assert _mia("labels", "export-masks", images, "--out", out) == 0
    for stem, mask in written.items():
        exported = tifffile.imread(out / f"{stem}.tif")
        assert exported.dtype == np.uint16
        np.testing.assert_array_equal(exported, mask)
    assert "movie.tif -> movie.tif:" in capsys.readouterr().out


def test_instance_masks_round_trip_keep_object_numbers(tmp_path: Path) -> None:
    images, masks, out = tmp_path / "images", tmp_path / "masks", tmp_path / "out"
    _write_image_folder(images)
    masks.mkdir()
    written = {
        "cells": _instance_mask(1),
        "nuclei": _instance_mask(2),
        "movie": np.stack([_instance_mask(3), _instance_mask(4), _instance_mask(5)]),
    }
    cv2.imwrite(str(masks / "cells.png"), written["cells"])  # 16-bit png
    tifffile.imwrite(masks / "nuclei.tif", written["nuclei"])
    tifffile.imwrite(masks / "movie.tif", written["movie"], photometric="minisblack")
    assert _mia("labels", "import-masks", images, "--masks", masks, "--instances", "--class-id", "4") == 0
    labels = load_labels(label_path(images / "nuclei.tif"))
    assert {c.class_id for c in labels.contours} == {4}
    assert {c.object_id for c in labels.contours} == set(np.unique(written["nuclei"])) - {0}
    assert _mia("labels", "export-masks", images, "--out", out, "--instances") == 0
    for stem, mask in written.items():
        np.testing.assert_array_equal(tifffile.imread(out / f"{stem}.tif"), mask)


def test_single_page_mask_for_a_stack_becomes_the_stack_label(tmp_path: Path) -> None:
    images, masks = tmp_path / "images", tmp_path / "masks"
    _write_image_folder(images)
    masks.mkdir()
    cv2.imwrite(str(masks / "movie.png"), _class_mask(7))
    assert _mia("labels", "import-masks", images, "--masks", masks) == 0
    assert label_path(images / "movie.tif").exists()
    assert not label_path(images / "movie.tif", frame=0).exists()
    out = tmp_path / "out"
    assert _mia("labels", "export-masks", images, "--out", out) == 0
    exported = tifffile.imread(out / "movie.tif")
    np.testing.assert_array_equal(exported, np.stack([_class_mask(7)] * 3))


def test_mask_suffix_binary_mask_and_class_id(tmp_path: Path) -> None:
    images, masks = tmp_path / "images", tmp_path / "masks"
    _write_image_folder(images)
    masks.mkdir()
    binary = (_class_mask(5) > 0).astype(np.uint8) * 255
    cv2.imwrite(str(masks / "cells_mask.png"), binary)
    assert _mia("labels", "import-masks", images, "--masks", masks, "--mask-suffix", "_mask", "--class-id", "2") == 0
    labels = load_labels(label_path(images / "cells.png"))
    assert {c.class_id for c in labels.contours} == {2}
    assert len(labels) == measure.label(binary > 0, connectivity=2).max()
    np.testing.assert_array_equal(labels.to_class_map((H, W)) == 2, binary > 0)


def test_indexed_png_mask_uses_palette_indices(tmp_path: Path) -> None:
    images, masks = tmp_path / "images", tmp_path / "masks"
    _write_image_folder(images)
    masks.mkdir()
    mask = _class_mask(6)
    indexed = Image.fromarray(mask, mode="L").convert("P")
    palette = [0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255] + [0] * (256 * 3 - 12)
    indexed.putpalette(palette)
    indexed.save(masks / "cells.png")
    assert _mia("labels", "import-masks", images, "--masks", masks) == 0
    class_map = load_labels(label_path(images / "cells.png")).to_class_map((H, W))
    np.testing.assert_array_equal(np.where(class_map < 0, 0, class_map), mask)


def test_unlabelled_value_keeps_drawn_background(tmp_path: Path) -> None:
    images, masks, out = tmp_path / "images", tmp_path / "masks", tmp_path / "out"
    _write_image_folder(images)
    masks.mkdir()
    mask = _class_mask(8).astype(np.uint16)  # 0 = drawn background class here
    mask[:10, :10] = 65535  # not labelled
    tifffile.imwrite(masks / "nuclei.tif", mask)
    assert _mia("labels", "import-masks", images, "--masks", masks, "--unlabelled", "65535") == 0
    class_map = load_labels(label_path(images / "nuclei.tif")).to_class_map((H, W))
    assert (class_map[:10, :10] == -1).all() and (class_map == 0).sum() == (mask == 0).sum()
    # With the default --unlabelled 0, background contours and unlabelled pixels would collide.
    assert _mia("labels", "export-masks", images, "--out", out) == 1
    assert not (out / "nuclei.tif").exists()
    assert _mia("labels", "export-masks", images, "--out", out, "--unlabelled", "65535") == 0
    np.testing.assert_array_equal(tifffile.imread(out / "nuclei.tif"), mask)


def test_mia_format_flag_writes_mia_layout(labels_cli_class_masks) -> None:
    images, masks, written = labels_cli_class_masks
    assert _mia("labels", "import-masks", images, "--masks", masks, "--mia-format") == 0
    with np.load(label_path(images / "cells.png"), allow_pickle=False) as data:
        assert int(data["arr_0"]) == 12345678910
    class_map = load_labels(label_path(images / "cells.png")).to_class_map((H, W))
    np.testing.assert_array_equal(np.where(class_map < 0, 0, class_map), written["cells"])


# --- refusals and bad input ----------------------------------------------------------------------


def test_import_refuses_to_overwrite_without_force(labels_cli_class_masks, capsys) -> None:
    images, masks, written = labels_cli_class_masks
    target = label_path(images / "cells.png")
    existing = labels_from_class_map(np.pad(np.ones((4, 4), np.int16), ((0, H - 4), (0, W - 4)), constant_values=-1))
    save_labels(target, existing)
    before = target.read_bytes()
    assert _mia("labels", "import-masks", images, "--masks", masks) == 0
    output = capsys.readouterr().out
    assert target.read_bytes() == before
    assert "cells.png: skipped, cells.npz exists (--force replaces it)" in output
    assert "1 skipped" in output and "cells.png" in output.splitlines()[-1]
    assert label_path(images / "nuclei.tif").exists()  # the others were still imported
    assert _mia("labels", "import-masks", images, "--masks", masks, "--force") == 0
    class_map = load_labels(target).to_class_map((H, W))
    np.testing.assert_array_equal(np.where(class_map < 0, 0, class_map), written["cells"])


def test_export_refuses_to_overwrite_without_force(labels_cli_class_masks, tmp_path: Path, capsys) -> None:
    images, masks, written = labels_cli_class_masks
    assert _mia("labels", "import-masks", images, "--masks", masks) == 0
    out = tmp_path / "out"
    out.mkdir()
    (out / "cells.tif").write_bytes(b"keep me")
    capsys.readouterr()
    assert _mia("labels", "export-masks", images, "--out", out) == 0
    assert (out / "cells.tif").read_bytes() == b"keep me"
    assert "skipped" in capsys.readouterr().out
    np.testing.assert_array_equal(tifffile.imread(out / "nuclei.tif"), written["nuclei"])
    assert _mia("labels", "export-masks", images, "--out", out, "--force") == 0
    np.testing.assert_array_equal(tifffile.imread(out / "cells.tif"), written["cells"])


def test_mismatched_mask_shape_names_both_files(tmp_path: Path, capsys) -> None:
    images, masks = tmp_path / "images", tmp_path / "masks"
    _write_image_folder(images)
    masks.mkdir()
    cv2.imwrite(str(masks / "cells.png"), np.ones((H, W + 1), np.uint8))
    cv2.imwrite(str(masks / "nuclei.png"), _class_mask(3))
    assert _mia("labels", "import-masks", images, "--masks", masks) == 1
    err = capsys.readouterr().err
    assert str(masks / "cells.png") in err and str(images / "cells.png") in err
    assert not label_path(images / "cells.png").exists()
    assert label_path(images / "nuclei.tif").exists()


def test_wrong_page_count_for_stack(tmp_path: Path, capsys) -> None:
    images, masks = tmp_path / "images", tmp_path / "masks"
    _write_image_folder(images)
    masks.mkdir()
    tifffile.imwrite(masks / "movie.tif", np.ones((2, H, W), np.uint8), photometric="minisblack")
    assert _mia("labels", "import-masks", images, "--masks", masks) == 1
    assert "2 pages" in capsys.readouterr().err


@pytest.mark.parametrize("content", [b"", b"not an image at all\n" * 10])
def test_corrupt_mask_fails_names_it_and_others_still_import(tmp_path: Path, capsys, content: bytes) -> None:
    images, masks = tmp_path / "images", tmp_path / "masks"
    _write_image_folder(images)
    masks.mkdir()
    (masks / "cells.png").write_bytes(content)
    tifffile.imwrite(masks / "nuclei.tif", _class_mask(1))
    assert _mia("labels", "import-masks", images, "--masks", masks) == 1
    captured = capsys.readouterr()
    assert str(masks / "cells.png") in captured.err
    assert "1 failed: cells.png" in captured.out
    assert label_path(images / "nuclei.tif").exists()


def test_truncated_mask_fails(tmp_path: Path, capsys) -> None:
    images, masks = tmp_path / "images", tmp_path / "masks"
    _write_image_folder(images)
    masks.mkdir()
    cv2.imwrite(str(masks / "cells.png"), _class_mask(1))
    data = (masks / "cells.png").read_bytes()
    (masks / "cells.png").write_bytes(data[: len(data) // 2])
    assert _mia("labels", "import-masks", images, "--masks", masks) == 1
    assert "truncated" in capsys.readouterr().err


def test_colour_and_fractional_masks_are_refused(tmp_path: Path, capsys) -> None:
    images, masks = tmp_path / "images", tmp_path / "masks"
    _write_image_folder(images)
    masks.mkdir()
    colour = np.zeros((H, W, 3), np.uint8)
    colour[5:20, 5:20] = (255, 0, 0)
    cv2.imwrite(str(masks / "cells.png"), colour)
    tifffile.imwrite(masks / "nuclei.tif", np.full((H, W), 0.5, np.float32))
    assert _mia("labels", "import-masks", images, "--masks", masks) == 1
    err = capsys.readouterr().err
    assert "colour" in err and "fractional" in err
    assert not label_path(images / "cells.png").exists()


def test_images_without_masks_or_labels_are_reported(tmp_path: Path, capsys) -> None:
    images, masks, out = tmp_path / "images", tmp_path / "masks", tmp_path / "out"
    _write_image_folder(images)
    masks.mkdir()
    assert _mia("labels", "import-masks", images, "--masks", masks) == 1  # nothing imported
    captured = capsys.readouterr()
    assert "cells.png: no mask cells.* in" in captured.out
    assert f"no mask in {masks} matches an image of {images}" in captured.err
    assert "--mask-suffix" not in captured.err  # no mask looks like an image name plus a suffix
    assert not (images / "Segmentation_labels").exists()  # nothing written, no folder left behind
    assert _mia("labels", "export-masks", images, "--out", out) == 0
    assert "cells.png: no labels, skipped" in capsys.readouterr().out
    assert list(out.iterdir()) == []


def test_same_folder_and_missing_folder_are_usage_errors(tmp_path: Path, capsys) -> None:
    images = tmp_path / "images"
    _write_image_folder(images)
    assert _mia("labels", "import-masks", images, "--masks", images) == 2
    assert _mia("labels", "export-masks", images, "--out", images) == 2
    assert _mia("labels", "import-masks", tmp_path / "nowhere", "--masks", images) == 2
    err = capsys.readouterr().err
    assert "image folder" in err and str(tmp_path / "nowhere") in err


def test_export_corrupt_label_file_fails_and_names_it(tmp_path: Path, capsys) -> None:
    images, out = tmp_path / "images", tmp_path / "out"
    _write_image_folder(images)
    bad = label_path(images / "cells.png")
    bad.parent.mkdir()
    bad.write_bytes(b"PK\x03\x04 broken")
    save_labels(label_path(images / "nuclei.tif"), labels_from_class_map(_class_mask(2).astype(np.int16), ignore=(0,)))
    assert _mia("labels", "export-masks", images, "--out", out) == 1
    assert str(bad) in capsys.readouterr().err
    np.testing.assert_array_equal(tifffile.imread(out / "nuclei.tif"), _class_mask(2))


def test_export_numbers_contours_without_object_ids_after_the_used_ones(tmp_path: Path) -> None:
    images, out = tmp_path / "images", tmp_path / "out"
    _write_image_folder(images)
    regions = np.full((H, W), -1, np.int16)
    regions[2:10, 2:10], regions[20:30, 20:30], regions[40:50, 40:50] = 1, 2, 1
    plain = labels_from_class_map(regions)
    numbered = [c.replace(object_id=2) if c.class_id == 2 else c for c in plain.contours]
    save_labels(label_path(images / "cells.png"), LabelSet(numbered, (H, W)))
    assert _mia("labels", "export-masks", images, "--out", out, "--instances") == 0
    exported = tifffile.imread(out / "cells.tif")
    values = {int(exported[5, 5]), int(exported[45, 45])}
    assert exported[25, 25] == 2 and values == {3, 4}  # unique, none reuses object 2
    assert read_image(out / "cells.tif").shape == (1, H, W)


def test_labels_without_action_prints_help(capsys) -> None:
    assert _mia("labels") == 2
    assert "import-masks" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        _mia("labels", "export-masks", "--help")
    assert "unlabelled" in capsys.readouterr().out
