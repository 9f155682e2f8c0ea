"""The auto-seg assistant without weights: closed edges -> objects, thresholds, and bad input."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mia_core import weights
from mia_plugins.assistants.autoseg import AutoSegAssistant, edge_threshold, objects_from_edges


def _rings() -> np.ndarray:
    """An edge map: a big ring with a small ring inside it, a separate ring, and an open arc."""
    edges = np.zeros((100, 140), np.float32)
    cv2.circle(edges, (40, 50), 30, 0.9, 3)
    cv2.circle(edges, (40, 50), 10, 0.8, 3)
    cv2.circle(edges, (110, 50), 15, 0.7, 3)
    cv2.ellipse(edges, (110, 85), (20, 8), 0, 0, 180, 0.9, 3)  # not closed
    return edges + 0.05


def test_closed_edges_become_filled_objects_and_open_ones_are_dropped():
    mask = objects_from_edges(_rings(), inner_contours=False)
    assert mask[50, 40] and mask[50, 60] and mask[50, 110]  # centres and the ring between are inside
    assert not mask[5, 5] and not mask[92, 110]  # background and the open arc
    n, _ = cv2.connectedComponents(mask.astype(np.uint8))
    assert n - 1 == 2
    # the outline runs along the middle of the edge band: area close to the circle's
    disc = np.zeros_like(mask)
    cv2.circle(disc.view(np.uint8), (110, 50), 15, 1, -1)
    right = mask.copy()
    right[:, :75] = False
    assert abs(int(right.sum()) - int(disc.sum())) < 0.1 * disc.sum()


def test_inner_contours_cut_a_hole_where_an_edge_closes_inside_an_object():
    mask = objects_from_edges(_rings(), inner_contours=True)
    assert mask[50, 62] and not mask[50, 40]  # the annulus is in, the inner disc is a hole
    assert mask[50, 110]


def test_threshold_is_otsu_by_default_and_checked_when_given():
    edges = _rings()
    t = edge_threshold(edges)
    assert 0.05 < t < 0.7
    assert edge_threshold(edges, 0.5) == 0.5
    with pytest.raises(ValueError, match="between 0 and 1"):
        edge_threshold(edges, 1.5)
    # a high threshold keeps only the strongest edge: only the big ring closes
    high = objects_from_edges(edges, 0.85)
    assert high[50, 40] and not high[50, 110]


def test_missing_weights_say_how_to_fetch_them(tmp_path, monkeypatch):
    monkeypatch.setenv(weights.CACHE_ENV, str(tmp_path))
    with pytest.raises(weights.MissingWeightsError, match="mia weights fetch hed"):
        AutoSegAssistant().predict(np.random.default_rng(0).integers(0, 255, (32, 32)).astype(np.uint8), {})


@pytest.mark.parametrize("image", [np.zeros((32, 32), np.uint8), np.full((16, 16), 7000, np.uint16)])
def test_a_constant_field_of_view_is_refused(image):
    with pytest.raises(ValueError, match="uniform"):
        AutoSegAssistant().edge_map(image, {})


def _patched(monkeypatch, fits_below: int, tried: list[tuple[int, int]]):
    """The assistant with a stand-in HED that runs out of memory above ``fits_below`` pixels and
    otherwise returns a ramp (x / width) of the input's size."""
    from mia_core.engine import hed

    def forward(model, x):
        tried.append(x.shape[:2])
        if x.shape[0] * x.shape[1] > fits_below:
            raise RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 1.2GiB")
        return np.tile(np.linspace(0, 1, x.shape[1], dtype=np.float32), (x.shape[0], 1))

    monkeypatch.setattr(hed, "edge_map", forward)
    assistant = AutoSegAssistant()
    monkeypatch.setattr(assistant, "_model", lambda name: object())
    return assistant


def test_out_of_memory_retries_on_a_copy_shrunk_by_09_as_mia_does(monkeypatch):
    tried: list[tuple[int, int]] = []
    image = np.random.default_rng(0).integers(0, 255, (200, 300)).astype(np.uint8)
    edges = _patched(monkeypatch, 30_000, tried).edge_map(image)
    # 300x200 -> 270x180 -> 243x162 -> 218x145 (31,610 px) -> 196x130 fits
    assert tried == [(200, 300), (180, 270), (162, 243), (145, 218), (130, 196)]
    assert edges.shape == (200, 300)  # scaled back to the field of view
    np.testing.assert_allclose(edges[100], np.linspace(0, 1, 300), atol=0.01)


def test_out_of_memory_down_to_100_pixels_gives_up_with_a_clear_message(monkeypatch):
    tried: list[tuple[int, int]] = []
    image = np.random.default_rng(0).integers(0, 255, (40, 40)).astype(np.uint8)
    with pytest.raises(MemoryError, match="out of memory even on a 9x9 copy of the 40x40 field of view"):
        _patched(monkeypatch, 0, tried).edge_map(image)
    assert tried[-1] == (9, 9) and len(tried) == 12  # 40, 36, 32, ... 11, 9: below 100 px it stops


def test_other_errors_of_the_forward_pass_are_not_retried(monkeypatch):
    from mia_core.engine import hed

    calls = []

    def broken(model, x):
        calls.append(x.shape)
        raise ValueError("a real bug")

    monkeypatch.setattr(hed, "edge_map", broken)
    assistant = AutoSegAssistant()
    monkeypatch.setattr(assistant, "_model", lambda name: object())
    with pytest.raises(ValueError, match="a real bug"):
        assistant.edge_map(np.random.default_rng(0).integers(0, 255, (50, 50)).astype(np.uint8))
    assert len(calls) == 1
