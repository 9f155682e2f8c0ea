"""Multi-page TIFFs: full-resolution pages of another size are refused, reduced ones skipped with a note."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import tifffile

from mia_core.images import ImageReadError, image_shape, read_image


def _pages(path: Path, *pages: np.ndarray, reduced: tuple[int, ...] = ()) -> None:
    with tifffile.TiffWriter(path) as tw:
        for i, page in enumerate(pages):
            tw.write(page, subfiletype=1 if i in reduced else 0, photometric="minisblack")


@pytest.mark.parametrize("reader", [read_image, image_shape])
def test_a_full_resolution_page_of_another_size_is_refused_naming_the_page(tmp_path: Path, reader) -> None:
    path = tmp_path / "mixed.tif"
    _pages(path, np.zeros((40, 30), np.uint8), np.ones((40, 30), np.uint8), np.zeros((20, 50), np.uint8))
    with pytest.raises(ImageReadError) as info:
        reader(path)
    message = str(info.value)
    assert "mixed.tif" in message and "page 2 is 50x20 pixels" in message and "page 0 is 30x40" in message


def test_a_full_resolution_page_of_another_type_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "types.tif"
    _pages(path, np.zeros((40, 30), np.uint8), np.zeros((40, 30), np.uint16))
    with pytest.raises(ImageReadError, match="page 1 is 30x40 pixels, uint16"):
        read_image(path)


def test_reduced_resolution_pages_are_skipped_and_the_user_is_told(tmp_path: Path, caplog) -> None:
    path = tmp_path / "pyramid.tif"
    full = np.arange(40 * 30, dtype=np.uint16).reshape(40, 30)
    _pages(path, full, full[::2, ::2].copy(), full[::4, ::4].copy(), reduced=(1, 2))
    notes: list[str] = []
    with caplog.at_level(logging.WARNING, logger="mia"):
        data = read_image(path, notes)
        again = read_image(path, [])
    np.testing.assert_array_equal(data, full[np.newaxis])
    np.testing.assert_array_equal(again, data)
    assert len(notes) == 1 and "2 reduced-resolution page(s)" in notes[0]
    logged = [r.getMessage() for r in caplog.records if "reduced-resolution" in r.getMessage()]
    assert logged == [f"pyramid.tif: {notes[0]}"]  # once per file, however often it is read
    shape_notes: list[str] = []
    assert image_shape(path, shape_notes) == (1, 40, 30) and shape_notes == notes


def test_a_plain_stack_has_no_notes(tmp_path: Path) -> None:
    path = tmp_path / "stack.tif"
    _pages(path, *[np.full((10, 12), i, np.uint8) for i in range(3)])
    notes: list[str] = []
    assert read_image(path, notes).shape == (3, 10, 12) and notes == []


def test_the_command_line_shows_the_note(tmp_path: Path) -> None:
    import subprocess
    import sys

    images, masks = tmp_path / "images", tmp_path / "masks"
    images.mkdir()
    masks.mkdir()
    full = np.zeros((40, 30), np.uint8)
    _pages(images / "pyramid.tif", full, full[::2, ::2].copy(), reduced=(1,))
    mask = full.copy()
    mask[5:20, 5:20] = 1
    tifffile.imwrite(masks / "pyramid.tif", mask)
    code = "import sys; from mia_core import cli; sys.exit(cli.main(sys.argv[1:]))"
    run = subprocess.run([sys.executable, "-c", code, "labels", "import-masks", str(images), "--masks", str(masks)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "pyramid.tif: 1 reduced-resolution page(s) (pyramid levels or thumbnails) skipped" in run.stderr
