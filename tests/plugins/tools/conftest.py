"""Event-sequence helpers and label documents on blank and labelled images for the tool tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Callable, Sequence

import cv2
import numpy as np
import pytest
import tifffile
from skimage.draw import disk, polygon as sk_polygon

from mia_core.api import PointerEvent, ToolContext
from mia_core.document import LabelDocument
from mia_core.label_store import label_path, load_labels, save_labels
from mia_core.raster import labels_from_class_map

SHAPE = (200, 200)

Point = tuple[float, float]


@dataclass
class Driver:
    """Feeds a tool the pointer events the viewer would send for strokes, clicks and the wheel."""

    tool: object
    ctx: ToolContext

    def press(self, x: float, y: float, button: str = "left") -> None:
        self.tool.press(self.ctx, PointerEvent(x, y, button))

    def move(self, x: float, y: float, button: str = "left") -> None:
        self.tool.move(self.ctx, PointerEvent(x, y, button))

    def release(self, x: float, y: float, button: str = "left") -> None:
        self.tool.release(self.ctx, PointerEvent(x, y, button))

    def click(self, x: float, y: float, button: str = "left") -> None:
        self.press(x, y, button)
        self.release(x, y, button)

    def right(self, x: float = 0.0, y: float = 0.0) -> None:
        self.click(x, y, "right")

    def stroke(self, points: Sequence[Point]) -> None:
        """Press on the first point, move through the rest, release on the last."""
        self.press(*points[0])
        for p in points[1:]:
            self.move(*p)
        self.release(*points[-1])

    def clicks(self, points: Sequence[Point]) -> None:
        """One left click per point, with hover moves in between (polygon vertices)."""
        for p in points:
            self.move(*p, button="none")
            self.click(*p)

    def wheel(self, notches: int, x: float = 100.0, y: float = 100.0) -> bool:
        return self.tool.wheel(self.ctx, PointerEvent(x, y, "none", wheel_delta=notches))

    def set_mode(self, mode: str) -> None:
        """Right-click until the tool is in ``mode`` (as a user would)."""
        for _ in range(len(self.tool.modes)):
            if self.tool.mode == mode:
                return
            self.right()
        assert self.tool.mode == mode


def circle_points(cx: float, cy: float, r: float, n: int = 72) -> list[Point]:
    """A closed freehand-like stroke around a circle (sub-pixel points, as a mouse gives)."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return [(cx + r * np.cos(a), cy + r * np.sin(a)) for a in t]


def rect_points(x0: float, y0: float, x1: float, y1: float, step: float = 0.0) -> list[Point]:
    """Rectangle corners, or (step > 0) a dense stroke around it."""
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    if step <= 0:
        return corners
    out: list[Point] = []
    for a, b in zip(corners, corners[1:] + corners[:1]):
        n = max(int(np.hypot(b[0] - a[0], b[1] - a[1]) / step), 1)
        out += [(a[0] + (b[0] - a[0]) * k / n, a[1] + (b[1] - a[1]) * k / n) for k in range(n)]
    return out


def line_points(x0: float, y0: float, x1: float, y1: float, n: int = 20) -> list[Point]:
    """A straight stroke sampled like mouse moves."""
    return [(x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n) for k in range(n + 1)]


def reference_polygon_mask(points: Sequence[Point], shape: tuple[int, int] = SHAPE) -> np.ndarray:
    """scikit-image's rasterisation of a polygon, independent of the label model."""
    pts = np.asarray(points, dtype=float)
    mask = np.zeros(shape, dtype=bool)
    rr, cc = sk_polygon(pts[:, 1], pts[:, 0], shape)
    mask[rr, cc] = True
    return mask


def reference_brush_mask(path: Sequence[Point], radius: float, shape: tuple[int, int] = SHAPE) -> np.ndarray:
    """Pixels within ``radius`` of the path (union of discs at dense samples), via scikit-image."""
    mask = np.zeros(shape, dtype=bool)
    pts = np.asarray(path, dtype=float)
    dense = [pts[0]]
    for a, b in zip(pts[:-1], pts[1:]):
        n = max(int(np.ceil(np.hypot(*(b - a)) * 2)), 1)
        dense += [a + (b - a) * k / n for k in range(1, n + 1)]
    for x, y in dense:
        rr, cc = disk((y, x), radius + 0.5, shape=shape)
        mask[rr, cc] = True
    return mask


def opencv_area(mask: np.ndarray) -> float:
    """Area (outer minus holes) of a mask's contours as OpenCV measures it."""
    found, hierarchy = cv2.findContours(mask.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    if hierarchy is None:
        return 0.0
    total = 0.0
    for c, h in zip(found, hierarchy[0]):
        total += cv2.contourArea(c) * (1 if h[3] < 0 else -1)
    return total


def assert_close(got: float, expected: float, tol: float, what: str = "area") -> None:
    """Equality within a tolerance in pixels, with a readable message."""
    assert abs(got - expected) <= tol, f"{what}: got {got}, expected {expected} +/- {tol}"


def assert_saved(doc: LabelDocument) -> None:
    """The label file on disk holds exactly the document's labels (no file when empty)."""
    if doc.labels.is_empty:
        assert not doc.path.exists()
        return
    on_disk = load_labels(doc.path)
    assert on_disk.same_as(doc.labels), f"{doc.path} differs from the document"
    assert np.array_equal(on_disk.to_class_map(SHAPE), doc.labels.to_class_map(SHAPE))


def write_tif(path: Path, shape: tuple[int, int] = SHAPE) -> Path:
    tifffile.imwrite(path, np.zeros(shape, dtype=np.uint8))
    return path


def labelled_class_map() -> np.ndarray:
    """Three regions: a class-1 disc, a class-2 square, a class-1 square ring with a hole."""
    cm = np.full(SHAPE, -1, dtype=np.int16)
    rr, cc = disk((50, 50), 20, shape=SHAPE)
    cm[rr, cc] = 1
    cm[30:81, 120:171] = 2
    cm[120:181, 40:101] = 1
    cm[140:161, 60:81] = -1
    return cm


@pytest.fixture
def blank_doc(tmp_path: Path) -> LabelDocument:
    """A document on a 200x200 blank tif with no labels yet."""
    return LabelDocument(write_tif(tmp_path / "blank.tif"), SHAPE)


@pytest.fixture
def labelled_doc(tmp_path: Path) -> LabelDocument:
    """A document on a tif whose label file (written beforehand) holds labelled_class_map()."""
    image = write_tif(tmp_path / "cells.tif")
    save_labels(label_path(image), labels_from_class_map(labelled_class_map()).with_shape(SHAPE))
    doc = LabelDocument(image, SHAPE)
    assert len(doc.labels) == 3
    return doc


@pytest.fixture
def drive() -> Callable[..., Driver]:
    """``drive(tool, doc, active_class=1)`` gives a Driver on a fresh context."""

    def make(tool: object, doc: LabelDocument, active_class: int = 1) -> Driver:
        return Driver(tool, ToolContext(document=doc, active_class=active_class))

    return make


@pytest.fixture
def geo() -> SimpleNamespace:
    """Stroke shapes and independent references (scikit-image, OpenCV) for the assertions."""
    return SimpleNamespace(
        circle=circle_points,
        rect=rect_points,
        line=line_points,
        polygon_mask=reference_polygon_mask,
        brush_mask=reference_brush_mask,
        opencv_area=opencv_area,
        close=assert_close,
        saved=assert_saved,
        class_map=labelled_class_map,
        shape=SHAPE,
    )


def registered(module: object) -> list:
    """Register a tool module with a pluggy manager on mia's hook specs and collect its tools."""
    import pluggy

    from mia_core import hooks

    pm = pluggy.PluginManager(hooks.PROJECT)
    pm.add_hookspecs(hooks)
    pm.register(module)
    pm.check_pending()
    return [t for tools in pm.hook.mia_tools() for t in tools]


@pytest.fixture
def register() -> Callable[[object], list]:
    """Collect the tools a module registers through the ``mia_tools`` hook."""
    return registered

