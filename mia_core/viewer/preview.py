"""Draws a tool's live preview: the area a stroke or polygon will add or delete, the brush's
swath at its real width, and the brush circle.

A stroke grows by a point per pointer move, so its path is extended in place (not rebuilt) and
the items' bounding boxes come from the path's control points (Qt's own path item would run a
path stroker over the whole stroke on every move to find them).
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import QPointF, QRectF, Qt
from PyQt5.QtGui import QBrush, QColor, QPainter, QPainterPath, QPainterPathStroker, QPen
from PyQt5.QtWidgets import QGraphicsEllipseItem, QGraphicsItem

from mia_core.viewer.contours import PIXEL_CENTRE

#: Opacity (0-255) of the area and swath an adding edit will paint: the image stays visible.
ADD_ALPHA = 110
#: An erasing edit darkens what it removes and hatches it in white, visible on dark and bright images.
ERASE_DARK = QColor(0, 0, 0, 120)
ERASE_HATCH = QColor(255, 255, 255, 210)
OUTLINE_PX = 2.0  # on-screen width of the outline


def _pen(colour: QColor, dashed: bool = False) -> QPen:
    pen = QPen(colour)
    pen.setCosmetic(True)
    pen.setWidthF(OUTLINE_PX)
    if dashed:
        pen.setStyle(Qt.DashLine)
    return pen


class PathItem(QGraphicsItem):
    """A path drawn with a pen and a brush, or stroked ``width`` image pixels wide with round ends.

    Its bounding box is the path's control-point box grown by ``margin``, so updating it after a
    move costs nothing; Qt repaints only that box.
    """

    def __init__(self) -> None:
        super().__init__()
        self._path = QPainterPath()
        self._pen = QPen(Qt.NoPen)
        self._brush = QBrush(Qt.NoBrush)
        self._rect = QRectF()
        self._margin = 0.0
        self.width = 0.0  # > 0: the path is painted as a swath this wide
        self.erase = False  # drawn as what an edit removes

    def path(self) -> QPainterPath:
        """The path drawn (canvas coordinates: pixel centres at +0.5)."""
        return self._path

    def pen(self) -> QPen:
        """The outline pen (a swath's pen carries its width)."""
        return self._pen

    def brush(self) -> QBrush:
        """The fill."""
        return self._brush

    def setPen(self, pen: QPen) -> None:  # noqa: N802 - Qt naming
        """Qt-style setter."""
        self._pen = QPen(pen)
        self.update()

    def setBrush(self, brush: QBrush) -> None:  # noqa: N802 - Qt naming
        """Qt-style setter."""
        self._brush = QBrush(brush)
        self.update()

    def set_path(self, path: QPainterPath, margin: float) -> None:
        """Show ``path``; ``margin`` (canvas units) is how far the paint reaches beyond it."""
        self.prepareGeometryChange()
        self._path = path
        self._margin = margin
        self._rect = path.controlPointRect().adjusted(-margin, -margin, margin, margin)
        self.update()

    def set_swath(self, width: float, colour: QColor, erase: bool) -> None:
        """Paint the path as a swath ``width`` canvas units wide (round ends): the brush's track."""
        self.width, self.erase = float(width), bool(erase)
        pen = QPen(colour if not erase else ERASE_DARK)
        pen.setWidthF(self.width)
        pen.setCapStyle(Qt.RoundCap)
        pen.setJoinStyle(Qt.RoundJoin)
        self._pen = pen
        self._brush = QBrush(Qt.NoBrush)
        self.update()

    def set_fill(self, brush: QBrush, erase: bool) -> None:
        """Fill the (implicitly closed) path: the area an edit adds, or, with ``erase``, removes."""
        self.width, self.erase = 0.0, bool(erase)
        self._pen = QPen(Qt.NoPen)
        self._brush = QBrush(brush)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt naming
        """The path's box grown by the margin (no path stroker per move)."""
        return self._rect

    def shape(self) -> QPainterPath:
        """The area painted: the stroke outline of a swath, else the path itself (tests, hit tests)."""
        if self.width > 0:
            stroker = QPainterPathStroker(self._pen)
            return stroker.createStroke(self._path)
        return self._path

    def paint(self, painter: QPainter, option: object, widget: object = None) -> None:
        """A swath is filled once (its overlaps do not darken); what an edit removes is darkened,
        hatched in white (in screen pixels, at any zoom) and outlined."""
        painter.setRenderHint(QPainter.Antialiasing, self.width > 0)
        if not self.erase:
            painter.setPen(self._pen)
            painter.setBrush(self._brush)
            painter.drawPath(self._path)
            return
        outline = self.shape()
        painter.fillPath(outline, QBrush(ERASE_DARK))
        hatch = QBrush(ERASE_HATCH, Qt.BDiagPattern)
        hatch.setTransform(painter.worldTransform().inverted()[0])
        painter.fillPath(outline, hatch)
        if self.width > 0:
            painter.strokePath(outline, _pen(ERASE_HATCH, dashed=True))


class PreviewLayer:
    """Items above the contours that show what the active tool is about to do.

    ``area`` fills a closed stroke or polygon (class colour to add; dark to delete), ``swath`` is a
    brush stroke or a slice at its width, ``line`` the outline, ``circle`` the brush cursor.
    """

    def __init__(self, view: pg.ViewBox) -> None:
        self.view = view
        self.area = PathItem()
        self.swath = PathItem()
        self.line = PathItem()
        self.circle = QGraphicsEllipseItem()
        for z, item in ((19, self.area), (19.5, self.swath), (20, self.line), (21, self.circle)):
            item.setZValue(z)
            item.setVisible(False)
            view.addItem(item, ignoreBounds=True)
        self.colour = QColor("#ffffff")
        self.circle.setPen(_pen(QColor("#ffffff"), dashed=True))
        self._points = np.zeros((0, 2))
        self._path = QPainterPath()

    def set_colour(self, colour: QColor) -> None:
        """Edits that add are previewed in the active class's colour."""
        self.colour = QColor(colour)

    def _tinted(self) -> QColor:
        tint = QColor(self.colour)
        tint.setAlpha(ADD_ALPHA)
        return tint

    def _open_path(self, pts: np.ndarray) -> QPainterPath:
        """The polyline as a path, extended in place while a stroke only grows."""
        old = self._points
        n = len(old)
        if n and len(pts) >= n and np.array_equal(pts[0], old[0]) and np.array_equal(pts[n - 1], old[-1]):
            for x, y in pts[n:]:
                self._path.lineTo(QPointF(x + PIXEL_CENTRE, y + PIXEL_CENTRE))
        elif len(pts) > 1:
            self._path = pg.arrayToQPath(pts[:, 0] + PIXEL_CENTRE, pts[:, 1] + PIXEL_CENTRE)
        else:  # arrayToQPath gives no path for a single point
            self._path = QPainterPath(QPointF(pts[0, 0] + PIXEL_CENTRE, pts[0, 1] + PIXEL_CENTRE))
        self._points = pts
        return self._path

    def _screen_pixel(self) -> float:
        """One screen pixel in canvas units (how far an outline reaches beyond its path)."""
        size = self.view.viewPixelSize()
        return max(float(size[0]), float(size[1]), 1e-6)

    def show(self, preview: object | None) -> None:
        """Draw a :class:`mia_core.api.Preview` (None hides everything)."""
        get = (lambda name, default=None: getattr(preview, name, default)) if preview is not None else (
            lambda name, default=None: default)
        polyline, circle = get("polyline"), get("circle")
        width, filled, erase = float(get("width", 0.0) or 0.0), bool(get("filled", False)), bool(get("erase", False))
        pixel = self._screen_pixel()
        if polyline is not None and len(polyline):
            pts = np.asarray(polyline, dtype=np.float64).reshape(-1, 2)
            path = self._open_path(pts)
            closed = bool(get("closed", False)) and len(pts) > 2
            self._show_area(path if filled and len(pts) > 2 else None, erase)
            self._show_swath(path if width > 0 else None, width, erase, pixel)
            if width > 0:
                self.line.setVisible(False)  # the swath is the whole picture
            else:
                outline = QPainterPath(path)
                if closed:
                    outline.closeSubpath()
                self.line.setPen(_pen(QColor("#ffffff") if erase else self.colour, dashed=erase))
                self.line.set_path(outline, 2 * pixel)
                self.line.setVisible(True)
        else:
            self._points = np.zeros((0, 2))
            for item in (self.area, self.swath, self.line):
                item.setVisible(False)
        if circle is not None:
            x, y, r = (float(v) for v in circle)
            cx, cy = x + PIXEL_CENTRE, y + PIXEL_CENTRE
            self.circle.setRect(QRectF(cx - r, cy - r, 2 * r, 2 * r))
            self.circle.setPen(_pen(QColor("#ffffff") if erase or width <= 0 else self.colour, dashed=True))
            self.circle.setVisible(True)
        else:
            self.circle.setVisible(False)

    def _show_area(self, path: QPainterPath | None, erase: bool) -> None:
        if path is None:
            self.area.setVisible(False)
            return
        self.area.set_fill(QBrush(ERASE_DARK if erase else self._tinted()), erase)
        self.area.set_path(path, 0.0)
        self.area.setVisible(True)

    def _show_swath(self, path: QPainterPath | None, width: float, erase: bool, pixel: float) -> None:
        if path is None:
            self.swath.setVisible(False)
            return
        width = max(width, OUTLINE_PX * pixel)  # a thin slice stays visible zoomed out
        self.swath.set_swath(width, self._tinted(), erase)
        self.swath.set_path(path, width / 2 + 2 * pixel)
        self.swath.setVisible(True)
