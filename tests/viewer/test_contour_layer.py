"""Large label sets are drawn in chunks so the GUI thread never blocks for long, and nothing is lost."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from mia_core.labels import Contour, LabelSet
from mia_core.viewer import contours as contours_module
from mia_core.viewer.contours import ContourLayer


def many(n: int, class_id: int = 1) -> LabelSet:
    cs = [Contour(class_id, np.array([[x, y], [x + 5, y], [x + 5, y + 5], [x, y + 5]]))
          for x, y in ((10 * (i % 50), 10 * (i // 50)) for i in range(n))]
    return LabelSet(cs, (1000, 1000))


def test_large_sets_arrive_in_chunks_and_completely(qtbot) -> None:
    widget = pg.GraphicsLayoutWidget()
    qtbot.addWidget(widget)
    layer = ContourLayer(widget.addViewBox())
    labels = many(3 * contours_module.CHUNK + 7)
    layer.show(labels)
    assert len(layer.items) == contours_module.CHUNK and layer.pending
    qtbot.waitUntil(lambda: not layer.pending)
    assert {id(c) for c, _item in layer.items.values()} == {id(c) for c in labels.contours}
    assert all(item.parentItem() is layer.group for _c, item in layer.items.values())


def test_a_newer_show_makes_queued_chunks_stale(qtbot) -> None:
    widget = pg.GraphicsLayoutWidget()
    qtbot.addWidget(widget)
    layer = ContourLayer(widget.addViewBox())
    first = many(2 * contours_module.CHUNK + 1)
    layer.show(first)
    second = LabelSet(first.contours[:10] + many(5, class_id=2).contours, first.shape)
    layer.show(second)  # before the first set's chunks ran
    qtbot.wait(50)
    assert not layer.pending
    assert {id(c) for c, _item in layer.items.values()} == {id(c) for c in second.contours}
    assert layer.classes == {1, 2}
