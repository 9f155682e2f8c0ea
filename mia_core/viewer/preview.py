"""Draws a tool's live preview: the stroke or polygon so far and the brush circle."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import QRectF, Qt
from PyQt5.QtGui import QColor, QPen
from PyQt5.QtWidgets import QGraphicsEllipseItem, QGraphicsPathItem

from mia_core.viewer.contours import PIXEL_CENTRE, rings_path


def _pen(colour: QColor, dashed: bool = False) -> QPen:
    pen = QPen(colour)
    pen.setCosmetic(True)
    pen.setWidthF(2.0)
    if dashed:
        pen.setStyle(Qt.DashLine)
    return pen


class PreviewLayer:
    """Items above the contours that show what the active tool is about to do."""

    def __init__(self, view: pg.ViewBox) -> None:
        self.line = QGraphicsPathItem()
        self.circle = QGraphicsEllipseItem()
        for z, item in ((20, self.line), (21, self.circle)):
            item.setZValue(z)
            item.setVisible(False)
            view.addItem(item)
        self.set_colour(QColor("#ffffff"))
        self.circle.setPen(_pen(QColor("#ffffff"), dashed=True))

    def set_colour(self, colour: QColor) -> None:
        """The stroke is drawn in the active class's colour."""
        self.line.setPen(_pen(colour))

    def show(self, preview: object | None) -> None:
        """Draw a :class:`mia_core.api.Preview` (None hides everything)."""
        polyline = getattr(preview, "polyline", None) if preview is not None else None
        circle = getattr(preview, "circle", None) if preview is not None else None
        if polyline is not None and len(polyline):
            pts = np.asarray(polyline, dtype=np.float64).reshape(-1, 2)
            if getattr(preview, "closed", False) and len(pts) > 2:
                self.line.setPath(rings_path([pts]))
            else:
                path = pg.arrayToQPath(pts[:, 0] + PIXEL_CENTRE, pts[:, 1] + PIXEL_CENTRE)
                self.line.setPath(path)
            self.line.setVisible(True)
        else:
            self.line.setVisible(False)
        if circle is not None:
            x, y, r = (float(v) for v in circle)
            cx, cy = x + PIXEL_CENTRE, y + PIXEL_CENTRE
            self.circle.setRect(QRectF(cx - r, cy - r, 2 * r, 2 * r))
            self.circle.setVisible(True)
        else:
            self.circle.setVisible(False)
