"""Drawn over the contours: skeleton pixels and object (track) numbers."""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import QRectF
from PyQt5.QtGui import QBrush, QColor, QPainterPath
from PyQt5.QtWidgets import QGraphicsPathItem

SKELETON_COLOUR = "#ffe000"
NUMBER_COLOUR = "#ffffff"


class SkeletonLayer:
    """One path of one-pixel squares for all skeletons shown (above the contours)."""

    def __init__(self, view: pg.ViewBox) -> None:
        self.item = QGraphicsPathItem()
        self.item.setPen(pg.mkPen(None))
        self.item.setBrush(QBrush(QColor(SKELETON_COLOUR)))
        self.item.setZValue(20)
        view.addItem(self.item, ignoreBounds=True)
        self.pixels = 0  # skeleton pixels drawn (tests, status)

    def show(self, skeletons: Iterable[tuple[np.ndarray, QPainterPath]]) -> None:
        """Draw the given skeletons ((N, 2) x, y pixels and their path), replacing what was drawn."""
        path = QPainterPath()
        n = 0
        for pts, part in skeletons:
            path.addPath(part)
            n += len(pts)
        self.item.setPath(path)
        self.pixels = n

    def clear(self) -> None:
        """Draw nothing."""
        self.show(())


def pixels_path(pixels: np.ndarray) -> QPainterPath:
    """One square per skeleton pixel (built once per contour: the overlay caches it)."""
    path = QPainterPath()
    for x, y in np.asarray(pixels).reshape(-1, 2):
        path.addRect(QRectF(float(x), float(y), 1.0, 1.0))
    return path


def label_point(contour: Any) -> tuple[float, float]:
    """Where a contour's number is written: the mean of its outer boundary, on the pixel centre."""
    pts = np.asarray(contour.outer, dtype=np.float64)
    return float(pts[:, 0].mean()) + 0.5, float(pts[:, 1].mean()) + 0.5


class ObjectNumberLayer:
    """A small text with the object number at each numbered contour; off by default."""

    def __init__(self, view: pg.ViewBox) -> None:
        self.view = view
        self.visible = False
        self.hidden = False  # the contours are hidden (View > Show contours off)
        self.items: list[pg.TextItem] = []
        self.texts: list[tuple[str, float, float]] = []  # what is written where (tests)

    def set_visible(self, visible: bool, labels: Any | None = None) -> None:
        """Show or hide the numbers (of ``labels``, when given)."""
        self.visible = bool(visible)
        self.show(labels)

    def set_hidden(self, hidden: bool) -> None:
        """Hide the numbers with the contours, and show them again with them."""
        self.hidden = bool(hidden)
        for item in self.items:
            item.setVisible(not hidden)

    def show(self, labels: Any | None) -> None:
        """Write the numbers of ``labels`` (a LabelSet as shown on the canvas), or none."""
        for item in self.items:
            self.view.removeItem(item)
        self.items, self.texts = [], []
        if not self.visible or labels is None:
            return
        for c in labels.contours:
            if c.object_id <= 0:
                continue
            x, y = label_point(c)
            item = pg.TextItem(str(c.object_id), color=NUMBER_COLOUR, anchor=(0.5, 0.5), fill=(0, 0, 0, 140))
            item.setZValue(30)
            item.setPos(x, y)
            item.setVisible(not self.hidden)
            self.view.addItem(item, ignoreBounds=True)
            self.items.append(item)
            self.texts.append((str(c.object_id), x, y))


__all__ = ["SkeletonLayer", "ObjectNumberLayer"]
