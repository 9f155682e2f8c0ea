"""A frame longer than the display limit is drawn from a reduced copy spanning the whole image."""

from __future__ import annotations

import numpy as np

from mia_core.viewer import canvas as canvas_module
from viewer_helpers import IMAGE_SHAPE


def test_a_frame_over_the_display_limit_is_drawn_reduced_but_keeps_image_coordinates(
        make_window, image_folder, monkeypatch) -> None:
    monkeypatch.setattr(canvas_module, "DISPLAY_MAX_SIDE", 64)  # the 160-px-wide image is "large"
    w = make_window(image_folder)
    item, frame = w.canvas.image_item, w.canvas.frame
    h, wd = IMAGE_SHAPE
    assert frame.shape[:2] == (h, wd)  # pixel values and tools still see the full frame
    assert item.image.shape[:2] == (40, 54)  # every 3rd pixel: 160 / 3 rounded up
    np.testing.assert_array_equal(item.image, frame[::3, ::3])
    rect = item.mapRectToView(item.boundingRect())
    assert (rect.x(), rect.y(), rect.width(), rect.height()) == (0, 0, wd, h)


def test_a_frame_within_the_limit_is_drawn_as_it_is(make_window, image_folder) -> None:
    w = make_window(image_folder)
    item = w.canvas.image_item
    assert item.image.shape[:2] == IMAGE_SHAPE
    rect = item.mapRectToView(item.boundingRect())
    assert (rect.width(), rect.height()) == (IMAGE_SHAPE[1], IMAGE_SHAPE[0])
