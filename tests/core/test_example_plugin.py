"""The third-party example plugin, built and installed like a user would, is found and works."""

from __future__ import annotations

import importlib.metadata
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from example_install import install_example, run_with_site
from mia_core.label_store import label_path, load_labels
from mia_core.labels import Contour, LabelSet
from mia_core.plugins import LOADED, load_plugins



@pytest.fixture(scope="session")
def example_target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example plugin installed with pip into a private folder (once per session)."""
    return install_example("mia-example-plugin", tmp_path_factory.mktemp("example_plugin"))


run_python = run_with_site


def test_mia_plugins_lists_the_installed_example(example_target: Path) -> None:
    proc = run_python(["-m", "mia_core.cli", "plugins", "--json"], example_target)
    assert proc.returncode == 0, proc.stderr
    records = {r["name"]: r for r in json.loads(proc.stdout)}
    assert records["example"] == {
        "name": "example",
        "version": "0.1.0",
        "module": "mia_example_plugin",
        "hooks": ["mia_exporters", "mia_tools"],
        "components": {"tools": ["stamp"], "exporters": ["area_centroid"]},
        "status": "loaded",
        "error": None,
    }


STAMP_SCRIPT = """
import sys
from mia_core.api import PointerEvent, ToolContext
from mia_core.document import LabelDocument
from mia_core.plugins import load_plugins

registry = load_plugins()
tool = registry.get("tools", "stamp")
doc = LabelDocument(sys.argv[1], shape=(40, 50))
ctx = ToolContext(document=doc, active_class=2)
tool.set_size(5)
tool.press(ctx, PointerEvent(10.4, 20.6))
tool.release(ctx, PointerEvent(10.4, 20.6))  # square x 8..12, y 19..23 of class 2
ctx.active_class = 1
tool.set_size(6)
tool.move(ctx, PointerEvent(33.0, 9.0, button="none"))
tool.press(ctx, PointerEvent(33.0, 9.0))
tool.release(ctx, PointerEvent(33.0, 9.0))  # square x 30..35, y 6..11 of class 1
tool.press(ctx, PointerEvent(0, 0, button="right"))  # -> remove mode
tool.release(ctx, PointerEvent(0, 0, button="right"))
tool.set_size(2)
tool.press(ctx, PointerEvent(31.0, 7.0))
tool.release(ctx, PointerEvent(31.0, 7.0))  # removes x 30..31, y 6..7
tool.release(ctx, PointerEvent(5.0, 5.0))  # a release without a press does nothing
print(tool.mode, len(doc.labels))
"""


def test_example_stamp_tool_edits_the_label_file(example_target: Path, tmp_path: Path) -> None:
    image = tmp_path / "cells.png"
    proc = run_python(["-c", STAMP_SCRIPT, str(image)], example_target)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["remove", "2"]

    saved = label_path(image)
    assert saved.is_file() and saved.parent == tmp_path / "Segmentation_labels"
    expected = np.full((40, 50), -1, dtype=np.int16)
    expected[19:24, 8:13] = 2
    expected[6:12, 30:36] = 1
    expected[6:8, 30:32] = -1
    np.testing.assert_array_equal(load_labels(saved).to_class_map((40, 50)), expected)


def shoelace(points: np.ndarray) -> tuple[float, float, float]:
    """Area and centroid (x, y) of a simple polygon, by the shoelace formula."""
    x, y = points[:, 0].astype(float), points[:, 1].astype(float)
    xn, yn = np.roll(x, -1), np.roll(y, -1)
    cross = x * yn - xn * y
    area = cross.sum() / 2
    cx = ((x + xn) * cross).sum() / (6 * area)
    cy = ((y + yn) * cross).sum() / (6 * area)
    return abs(area), cx, cy


def test_example_exporter_measures_area_and_centroid(
    example_target: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(example_target))
    dist = importlib.metadata.distribution("mia-example-plugin")  # found on the patched sys.path
    try:
        registry = load_plugins(disabled=(), entry_points=dist.entry_points)
        assert registry.record("example").status == LOADED
        exporter = registry.get("exporters", "area_centroid")
        outer = np.array([[0, 0], [30, 0], [30, 12], [0, 12]])
        hole = np.array([[20, 2], [26, 2], [26, 8], [20, 8]])
        triangle = np.array([[40, 40], [49, 40], [40, 49]])
        labels = LabelSet([Contour(1, outer, (hole,), object_id=7), Contour(3, triangle)])
        rows = exporter.measure(labels, None)
    finally:
        for name in [m for m in sys.modules if m.split(".")[0] == "mia_example_plugin"]:
            del sys.modules[name]

    a_out, x_out, y_out = shoelace(outer)
    a_hole, x_hole, y_hole = shoelace(hole)
    area = a_out - a_hole
    assert [(r["contour"], r["class_id"], r["object_id"]) for r in rows] == [(0, 1, 7), (1, 3, 0)]
    assert rows[0]["area"] == pytest.approx(area)
    assert rows[0]["area"] == pytest.approx(labels.contours[0].area)
    assert rows[0]["centroid_x"] == pytest.approx((a_out * x_out - a_hole * x_hole) / area)
    assert rows[0]["centroid_y"] == pytest.approx((a_out * y_out - a_hole * y_hole) / area)
    a_tri, x_tri, y_tri = shoelace(triangle)
    assert (rows[1]["area"], rows[1]["centroid_x"], rows[1]["centroid_y"]) == pytest.approx((a_tri, x_tri, y_tri))
