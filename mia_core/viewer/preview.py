"""Draws a tool's live preview: the area a stroke or polygon will add or delete, the brush's
swath at its real width, the brush circle and clicked points.

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
#: An erase swath narrower than this on screen is outlined too (its hatching would be a few dashes);
#: wider ones are not, as the outline of a turning stroke shows the stroker's inner joins.
THIN_SWATH_PX = 16.0
MARKER_PX = 11  # on-screen diameter of a clicked point's dot


def _pen(colour: QColor, dashed: bool = False) -> QPen:
    pen = QPen(colour)
    pen.setCosmetic(True)
    pen.setWidthF(OUTLINE_PX)
    if dashed:
        pen.setStyle(Qt.DashLine)
    return pen


class PathItem(QGraphicsItem):
    """A path filled with a brush and outlined with a pen, or, with ``width`` > 0, painted as a swath
    that wide with round ends; ``erase`` draws it as what an edit removes.

    Its bounding box comes from the path's control points (no path stroker per move) and only
    grows, in generous steps, while a stroke grows: a move then repaints the new segment only.
    """

    def __init__(self) -> None:
        super().__init__()
        self.setAcceptedMouseButtons(Qt.NoButton)
        self._path = QPainterPath()
        self._pen = QPen(Qt.NoPen)
        self._brush = QBrush(Qt.NoBrush)
        self._rect = QRectF()
        self.width = 0.0  # > 0: the path is painted as a swath this wide
        self.erase = False  # drawn as what an edit removes
        self.closed = False  # the outline runs back to the first point

    def path(self) -> QPainterPath:
        """The path drawn (canvas coordinates: pixel centres at +0.5)."""
        return self._path

    def pen(self) -> QPen:
        """The outline pen (a swath's pen carries its width)."""
        return self._pen

    def brush(self) -> QBrush:
        """The fill."""
        return self._brush

    def set_style(self, pen: QPen, brush: QBrush, width: float = 0.0, erase: bool = False,
                  closed: bool = False) -> None:
        """How the path is drawn; repaints only when that changed (not on every move)."""
        if (pen == self._pen and brush == self._brush and float(width) == self.width
                and bool(erase) == self.erase and bool(closed) == self.closed):
            return
        self._pen, self._brush = QPen(pen), QBrush(brush)
        self.width, self.erase, self.closed = float(width), bool(erase), bool(closed)
        self.update()

    def set_path(self, path: QPainterPath, margin: float, changed: QRectF | None = None) -> None:
        """Show ``path``. ``changed`` (canvas units) is the part that differs from the path shown
        before (a stroke's new segment), None for a new path; ``margin`` is how far paint reaches
        beyond the path."""
        self._path = path
        if changed is None:
            self.prepareGeometryChange()
            self._rect = path.controlPointRect().adjusted(-margin, -margin, margin, margin)
            self.update()
            return
        dirty = changed.adjusted(-margin, -margin, margin, margin)
        if not self._rect.contains(dirty):
            self.prepareGeometryChange()
            grown = self._rect.united(dirty)
            pad = 0.5 * max(grown.width(), grown.height()) + margin
            self._rect = grown.adjusted(-pad, -pad, pad, pad)
        self.update(dirty)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt naming
        """The path's box grown by the margin (no path stroker per move)."""
        return self._rect

    def painted_area(self) -> QPainterPath:
        """The area painted: the stroke outline of a swath, else the path itself."""
        if self.width > 0:
            return QPainterPathStroker(self._pen).createStroke(self._path)
        return self._path

    def shape(self) -> QPainterPath:
        """The box only: a preview takes no clicks, and a scene hit test must not stroke the path."""
        box = QPainterPath()
        box.addRect(self._rect)
        return box

    def paint(self, painter: QPainter, option: object, widget: object = None) -> None:
        """A swath is filled once (its overlaps do not darken); what an edit removes is darkened and
        hatched in white (in screen pixels, at any zoom); a thin one is outlined as well."""
        painter.setRenderHint(QPainter.Antialiasing, self.width > 0)
        if not self.erase or self.width <= 0 and self._brush.style() == Qt.NoBrush:
            painter.setPen(self._pen)
            painter.setBrush(self._brush)
            painter.drawPath(self._path)
            count = self._path.elementCount()
            if self.closed and count > 2:
                last, first = self._path.elementAt(count - 1), self._path.elementAt(0)
                painter.drawLine(QPointF(last.x, last.y), QPointF(first.x, first.y))
            return
        outline = self.painted_area()
        painter.fillPath(outline, QBrush(ERASE_DARK))
        hatch = QBrush(ERASE_HATCH, Qt.BDiagPattern)
        hatch.setTransform(painter.worldTransform().inverted()[0])
        painter.fillPath(outline, hatch)
        if 0 < self.width * abs(painter.worldTransform().m11()) < THIN_SWATH_PX:
            painter.strokePath(outline, _pen(ERASE_HATCH, dashed=True))  # too thin to show hatching


def _box(points: np.ndarray) -> QRectF:
    """The canvas rectangle spanning image points."""
    lo, hi = points.min(axis=0) + PIXEL_CENTRE, points.max(axis=0) + PIXEL_CENTRE
    return QRectF(QPointF(lo[0], lo[1]), QPointF(hi[0], hi[1]))


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
        self.markers = pg.ScatterPlotItem(pxMode=True, size=MARKER_PX, symbol="o")
        self.markers.setZValue(22)
        self.markers.setVisible(False)
        view.addItem(self.markers, ignoreBounds=True)
        self._points = np.zeros((0, 2))
        self._path = QPainterPath()

    def set_colour(self, colour: QColor) -> None:
        """Edits that add are previewed in the active class's colour."""
        self.colour = QColor(colour)

    def _tinted(self) -> QColor:
        tint = QColor(self.colour)
        tint.setAlpha(ADD_ALPHA)
        return tint

    def _open_path(self, pts: np.ndarray) -> tuple[QPainterPath, bool]:
        """The polyline as a path, extended in place while a stroke only grows (then True)."""
        old = self._points
        n = len(old)
        grown = bool(n and len(pts) >= n and np.array_equal(pts[0], old[0]) and np.array_equal(pts[n - 1], old[-1]))
        if grown:
            for x, y in pts[n:]:
                self._path.lineTo(QPointF(x + PIXEL_CENTRE, y + PIXEL_CENTRE))
        elif len(pts) > 1:
            self._path = pg.arrayToQPath(pts[:, 0] + PIXEL_CENTRE, pts[:, 1] + PIXEL_CENTRE)
        else:  # arrayToQPath gives no path for a single point
            self._path = QPainterPath(QPointF(pts[0, 0] + PIXEL_CENTRE, pts[0, 1] + PIXEL_CENTRE))
        self._points = pts
        return self._path, grown

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
            n_old = len(self._points)
            path, grown = self._open_path(pts)
            # what a move changed: the new segment, and for closed shapes the edge back to the start
            segment = _box(pts[n_old - 1 :]) if grown else None
            fan = _box(np.vstack([pts[:1], pts[n_old - 1 :]])) if grown else None
            closed = bool(get("closed", False)) and len(pts) > 2
            self._show_area(path if filled and len(pts) > 2 else None, erase, fan)
            self._show_swath(path if width > 0 else None, width, erase, pixel, segment)
            if width > 0:
                self.line.setVisible(False)  # the swath is the whole picture
            else:
                self.line.set_style(_pen(QColor("#ffffff") if erase else self.colour, dashed=erase),
                                    QBrush(Qt.NoBrush), closed=closed)
                self.line.set_path(path, 2 * pixel, fan if closed else segment)
                self.line.setVisible(True)
        else:
            self._points = np.zeros((0, 2))
            for item in (self.area, self.swath, self.line):
                item.setVisible(False)
        self._show_markers(get("markers"))
        if circle is not None:
            x, y, r = (float(v) for v in circle)
            cx, cy = x + PIXEL_CENTRE, y + PIXEL_CENTRE
            self.circle.setRect(QRectF(cx - r, cy - r, 2 * r, 2 * r))
            pen = _pen(QColor("#ffffff") if erase or width <= 0 else self.colour, dashed=True)
            if pen != self.circle.pen():
                self.circle.setPen(pen)
            self.circle.setVisible(True)
        else:
            self.circle.setVisible(False)

    def _show_markers(self, markers: np.ndarray | None) -> None:
        """Clicked points as dots in the class colour, ringed in white so they stand out on dark images."""
        if markers is None or not len(markers):
            self.markers.setVisible(False)
            return
        pts = np.asarray(markers, dtype=np.float64).reshape(-1, 2) + PIXEL_CENTRE
        self.markers.setData(x=pts[:, 0], y=pts[:, 1], brush=pg.mkBrush(self.colour),
                             pen=pg.mkPen(QColor("#ffffff"), width=2))
        self.markers.setVisible(True)

    def _show_area(self, path: QPainterPath | None, erase: bool, changed: QRectF | None) -> None:
        if path is None:
            self.area.setVisible(False)
            return
        self.area.set_style(QPen(Qt.NoPen), QBrush(ERASE_DARK if erase else self._tinted()), erase=erase)
        self.area.set_path(path, 0.0, changed)
        self.area.setVisible(True)

    def _show_swath(self, path: QPainterPath | None, width: float, erase: bool, pixel: float,
                    changed: QRectF | None) -> None:
        if path is None:
            self.swath.setVisible(False)
            return
        width = max(width, OUTLINE_PX * pixel)  # a thin slice stays visible zoomed out
        pen = QPen(ERASE_DARK if erase else self._tinted())
        pen.setWidthF(width)
        pen.setCapStyle(Qt.RoundCap)
        pen.setJoinStyle(Qt.RoundJoin)
        self.swath.set_style(pen, QBrush(Qt.NoBrush), width, erase)
        self.swath.set_path(path, width / 2 + 2 * pixel, changed)
        self.swath.setVisible(True)
