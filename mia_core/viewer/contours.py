"""Draws a LabelSet on the canvas: one outlined, filled path per contour, holes left open (odd-even fill).

Every contour has its own outline, and its fill takes one of a few shades of the class colour,
unlike the shades of the class's contours next to it, so touching objects of one class stay apart. Background
(class 0) is drawn dashed and faint. Opacity, outlines only and hidden classes are display
choices of the layer, never written to the labels.
"""

from __future__ import annotations

from typing import Callable, Iterable, Sequence

import numpy as np
import pyqtgraph as pg
import pyqtgraph.functions as fn
from PyQt5.QtCore import QRectF, Qt, QTimer
from PyQt5.QtGui import QBrush, QColor, QPainterPath, QPen
from PyQt5.QtWidgets import QGraphicsPathItem

#: Contour points are pixel centres; pixel (c, r) covers [c, c+1) x [r, r+1) on the canvas.
PIXEL_CENTRE = 0.5
FILL_ALPHA = 70
BACKGROUND_FILL_ALPHA = 22  # background is what is not an object: a faint tint behind the objects
#: Fill shades of one class (QColor.lighter / darker factors); neighbours get different ones.
SHADES = (100, 150, -150, 125)
UNKNOWN_COLOUR = "#9a9a9a"
#: Contours drawn per event-loop turn: thousands at once would hold the GUI thread for > 50 ms.
CHUNK = 300


def rings_path(rings: Iterable[np.ndarray]) -> QPainterPath:
    """One path of closed rings ((N, 2) x, y pixel centres); points are copied in bulk for speed."""
    path = QPainterPath()
    for ring in rings:
        pts = np.asarray(ring, dtype=np.float64).reshape(-1, 2)
        if len(pts) == 0:
            continue
        poly = fn.create_qpolygonf(len(pts))
        view = fn.ndarray_from_qpolygonf(poly)
        view[:] = pts
        view += PIXEL_CENTRE
        path.addPolygon(poly)
        path.closeSubpath()
    path.setFillRule(Qt.OddEvenFill)
    return path


class ContourLayer:
    """One path item per contour, kept in step with a LabelSet by identity.

    LabelSet edits return new sets that share every untouched Contour object, so a redraw after an
    edit only builds items for the contours that changed (a few, even among thousands).
    """

    def __init__(self, view: pg.ViewBox) -> None:
        self.view = view
        # Contour items are children of one group added to the view once: the view's own
        # per-item bookkeeping cost ~28 ms per 1,000 items, a parent item costs next to nothing.
        self.group = pg.ItemGroup()
        self.group.setZValue(10)
        view.addItem(self.group, ignoreBounds=True)
        self.items: dict[int, tuple[object, QGraphicsPathItem]] = {}  # id(contour) -> (contour, item)
        self.colours: Sequence[str] = ()
        self.visible = True
        self.hidden: set[int] = set()  # classes the user switched off
        self.outline_only = False
        self._pens: dict[tuple[int, int], tuple[QPen, QBrush]] = {}
        self.shades = ShadeGrid()
        self._generation = 0  # a newer show() makes chunks still queued for an older one stale
        self._queued = 0
        #: What the canvas shows of a label set (e.g. without small contours, or a preview); None = all.
        self.display_filter: Callable[[object], object] | None = None
        #: Called with the label set as shown, after every show (overlays that follow the contours).
        self.listeners: list[Callable[[object | None], None]] = []
        self.source: object | None = None  # the label set last given to show(), before the filter

    @property
    def classes(self) -> set[int]:
        """Class ids currently drawn."""
        return {int(getattr(c, "class_id", -1)) for c, _item in self.items.values()}

    def set_colours(self, colours: Sequence[str]) -> None:
        """Class colours by class id (recolouring a class redraws at once)."""
        self.colours = list(colours)
        self._pens.clear()
        for contour, item in self.items.values():
            self._style(item, int(contour.class_id))

    def colour(self, class_id: int) -> QColor:
        """The colour a class is drawn in (grey for a class the project does not define)."""
        if 0 <= class_id < len(self.colours):
            return QColor(self.colours[class_id])
        return QColor(UNKNOWN_COLOUR)

    def show(self, labels: object | None) -> None:
        """Draw ``labels`` (a LabelSet, or None to clear), rebuilding only changed contours."""
        self.source = labels
        if labels is not None and self.display_filter is not None:
            labels = self.display_filter(labels)
        contours = list(getattr(labels, "contours", ())) if labels is not None else []
        wanted = {id(c): c for c in contours}
        scene = self.group.scene()
        for key in [k for k in self.items if k not in wanted]:
            _contour, item = self.items.pop(key)
            self.shades.remove(key)
            item.setParentItem(None)
            if scene is not None:
                scene.removeItem(item)
        self._generation += 1
        self._add_chunk([(k, c) for k, c in wanted.items() if k not in self.items], self._generation)
        for listener in list(self.listeners):
            listener(labels)

    def refresh(self) -> None:
        """Show the last label set again (after the display filter changed)."""
        self.show(self.source)

    @property
    def pending(self) -> bool:
        """True while contours of the last ``show`` are still being added (large label sets)."""
        return self._queued > 0

    def _add_chunk(self, todo: list[tuple[int, object]], generation: int) -> None:
        """Add up to CHUNK items now and queue the rest for the next event-loop turn."""
        if generation != self._generation:
            return  # a newer show() took over; it adds whatever is still missing
        for key, contour in todo[:CHUNK]:
            path = rings_path([contour.outer, *contour.holes])
            item = QGraphicsPathItem(path)
            item.setData(0, self.shades.add(key, int(contour.class_id), path.boundingRect()))
            self._style(item, int(contour.class_id))
            if contour.class_id == 0:
                item.setZValue(-1)  # objects above background
            item.setVisible(self._shown(int(contour.class_id)))
            item.setParentItem(self.group)
            self.items[key] = (contour, item)
        rest = todo[CHUNK:]
        self._queued = len(rest)
        if rest:
            QTimer.singleShot(0, lambda: self._add_chunk(rest, generation))

    def set_visible(self, visible: bool) -> None:
        """Show or hide every contour (to look at the bare image)."""
        self.visible = visible
        self._update_visibility()

    def set_class_visible(self, class_id: int, visible: bool) -> None:
        """Show or hide the contours of one class."""
        (self.hidden.discard if visible else self.hidden.add)(int(class_id))
        self._update_visibility()

    def set_opacity(self, opacity: float) -> None:
        """Opacity of the whole layer, outlines and fills (0 transparent .. 1 as drawn)."""
        self.group.setOpacity(min(max(float(opacity), 0.0), 1.0))

    def set_outline_only(self, on: bool) -> None:
        """Draw outlines without fills (to see the image under the objects)."""
        self.outline_only = bool(on)
        self.set_colours(self.colours)

    def _shown(self, class_id: int) -> bool:
        return self.visible and class_id not in self.hidden

    def _update_visibility(self) -> None:
        for contour, item in self.items.values():
            item.setVisible(self._shown(int(contour.class_id)))

    def _style(self, item: QGraphicsPathItem, class_id: int) -> None:
        shade = int(item.data(0) or 0)
        key = (class_id, shade)
        if key not in self._pens:
            colour = self.colour(class_id)
            pen = QPen(colour)
            pen.setCosmetic(True)
            pen.setWidthF(2.0)
            factor = SHADES[shade % len(SHADES)]
            fill = colour.lighter(factor) if factor > 0 else colour.darker(-factor)
            fill.setAlpha(FILL_ALPHA)
            if class_id == 0:
                pen.setWidthF(1.5)
                pen.setStyle(Qt.DashLine)
                fill = QColor(colour)
                fill.setAlpha(BACKGROUND_FILL_ALPHA)
            self._pens[key] = (pen, QBrush(Qt.NoBrush) if self.outline_only else QBrush(fill))
        pen, brush = self._pens[key]
        item.setPen(pen)
        item.setBrush(brush)


class ShadeGrid:
    """Picks each contour's fill shade unlike those of the same class's contours whose boxes touch it.

    Boxes are kept in a grid of CELL-pixel cells, so a new contour looks only at its neighbours;
    the first shade no neighbour has wins (four suffice for cells packed side by side).
    """

    CELL = 64
    MAX_CELLS = 64  # a contour spanning more cells (a tissue region) is kept in one list per class

    def __init__(self) -> None:
        self.cells: dict[tuple[int, int, int], dict[int, tuple[int, int, int, int, int]]] = {}
        self.where: dict[int, list[tuple[int, int, int]]] = {}

    def add(self, key: int, class_id: int, rect: QRectF) -> int:
        """Remember a contour's box (its path's bounds) and return its shade (always 0 for background)."""
        if class_id == 0:
            return 0
        # the pixels it covers, last ones exclusive: boxes of touching contours overlap by their edge
        x0, y0 = int(rect.left() + PIXEL_CENTRE - 1), int(rect.top() + PIXEL_CENTRE - 1)
        x1, y1 = int(rect.right() + PIXEL_CENTRE), int(rect.bottom() + PIXEL_CENTRE)
        c0, r0, c1, r1 = x0 // self.CELL, y0 // self.CELL, x1 // self.CELL, y1 // self.CELL
        big = (class_id, -1, -1)
        if (c1 - c0 + 1) * (r1 - r0 + 1) > self.MAX_CELLS:
            cells = [big]
        else:
            cells = [(class_id, c, r) for c in range(c0, c1 + 1) for r in range(r0, r1 + 1)]
        used = 0  # bit mask of the neighbours' shades
        for cell in (*cells, big) if cells[0] != big else cells:
            for bx0, by0, bx1, by1, shade in self.cells.get(cell, {}).values():
                if bx0 <= x1 and x0 <= bx1 and by0 <= y1 and y0 <= by1:
                    used |= 1 << shade
        shade = next((s for s in range(len(SHADES)) if not used >> s & 1), 0)
        for cell in cells:
            self.cells.setdefault(cell, {})[key] = (x0, y0, x1, y1, shade)
        self.where[key] = cells
        return shade

    def remove(self, key: int) -> None:
        """Forget a contour that is no longer drawn."""
        for cell in self.where.pop(key, ()):
            bucket = self.cells.get(cell)
            if bucket is not None:
                bucket.pop(key, None)
                if not bucket:
                    del self.cells[cell]
