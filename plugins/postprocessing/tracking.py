"""Link contours of one class across frames: overlap first, centroid distance as fallback, Hungarian.

A sequence postprocessor: ``apply_sequence(frames)`` numbers the objects of every frame with track
ids (the contour's object number) and says which track each new track divided from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mia_core.hooks import hookimpl
from mia_core.labels import LabelSet
from mia_core.measure import centroid, local_mask

_NO = 1e9  # cost of a forbidden link


@dataclass
class _Obj:
    mask: np.ndarray
    origin: tuple[int, int]
    cx: float
    cy: float
    cls: int
    area: int


@dataclass
class _Track:
    tid: int
    last: _Obj
    seen: int


@dataclass
class TrackResult:
    """The frames with track ids as object numbers, and ``parents[child] = parent`` for divisions."""

    frames: list[LabelSet]
    parents: dict[int, int] = field(default_factory=dict)


def _obj(c: Any) -> _Obj:
    mask, origin = local_mask(c)
    cx, cy = centroid(mask, origin)
    return _Obj(mask, origin, cx, cy, c.class_id, int(mask.sum()))


def _overlap(a: _Obj, b: _Obj) -> int:
    ax0, ay0 = a.origin
    bx0, by0 = b.origin
    x0, y0 = max(ax0, bx0), max(ay0, by0)
    x1 = min(ax0 + a.mask.shape[1], bx0 + b.mask.shape[1])
    y1 = min(ay0 + a.mask.shape[0], by0 + b.mask.shape[0])
    if x0 >= x1 or y0 >= y1:
        return 0
    pa = a.mask[y0 - ay0 : y1 - ay0, x0 - ax0 : x1 - ax0]
    pb = b.mask[y0 - by0 : y1 - by0, x0 - bx0 : x1 - bx0]
    return int((pa & pb).sum())


class Tracker:
    """``max_distance`` (px, default 35 as MIA) and ``gap`` (frames an object may miss, default 1)."""

    name = "tracking"

    def apply(self, labels: LabelSet, **options: Any) -> LabelSet:
        """A single frame tracks trivially: every contour starts its own track."""
        return self.apply_sequence([labels], **options).frames[0]

    def apply_sequence(self, frames: list[LabelSet], **options: Any) -> TrackResult:
        """Track ids for every contour of every frame."""
        from scipy.optimize import linear_sum_assignment

        max_d = float(options.get("max_distance", 35.0))
        gap = int(options.get("gap", 1))
        tracks: list[_Track] = []
        parents: dict[int, int] = {}
        next_id = 1
        out = []
        for t, labels in enumerate(frames):
            objs = [_obj(c) for c in labels.contours]
            live = [tr for tr in tracks if t - tr.seen <= gap + 1]
            ids = [0] * len(objs)
            overlap = np.array([[_overlap(tr.last, o) if tr.last.cls == o.cls else 0 for o in objs] for tr in live],
                               dtype=np.float64).reshape(len(live), len(objs))
            # Divisions: a track's pixels now cover two or more objects that overlap nothing else.
            divided: set[int] = set()
            for i, tr in enumerate(live):
                kids = [j for j in range(len(objs)) if overlap[i, j] > 0 and overlap[:, j].argmax() == i
                        and overlap[i, j] >= 0.3 * objs[j].area]
                if len(kids) >= 2 and tr.seen == t - 1:
                    divided.add(i)
                    for j in kids:
                        ids[j] = next_id
                        parents[next_id] = tr.tid
                        next_id += 1
            rows = [i for i in range(len(live)) if i not in divided]
            cols = [j for j in range(len(objs)) if not ids[j]]
            if rows and cols:
                cost = np.full((len(rows), len(cols)), _NO)
                for a, i in enumerate(rows):
                    tr = live[i]
                    for b, j in enumerate(cols):
                        o = objs[j]
                        if tr.last.cls != o.cls:
                            continue
                        if overlap[i, j] > 0:
                            union = tr.last.area + o.area - overlap[i, j]
                            cost[a, b] = 1.0 - overlap[i, j] / union
                        else:
                            d = float(np.hypot(tr.last.cx - o.cx, tr.last.cy - o.cy))
                            if d <= max_d:
                                cost[a, b] = 1.0 + d / max(max_d, 1e-9)
                ra, cb = linear_sum_assignment(cost)
                for a, b in zip(ra, cb):
                    if cost[a, b] < _NO:
                        tr = live[rows[a]]
                        ids[cols[b]] = tr.tid
                        tr.last, tr.seen = objs[cols[b]], t
            for i in divided:
                live[i].seen = -10**9  # a divided parent's track ends
            order = sorted(range(len(objs)), key=lambda j: (objs[j].cy, objs[j].cx))
            for j in order:
                if not ids[j]:
                    ids[j] = next_id
                    next_id += 1
            for j, tid in enumerate(ids):
                known = {tr.tid for tr in tracks}
                if tid not in known:
                    tracks.append(_Track(tid, objs[j], t))
            out.append(LabelSet([c.replace(object_id=i) for c, i in zip(labels.contours, ids)], labels.shape))
        return TrackResult(out, parents)


@hookimpl
def mia_postprocessors() -> list[Tracker]:
    return [Tracker()]
