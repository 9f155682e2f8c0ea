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


def _boxes(objs: list[_Obj]) -> np.ndarray:
    return np.array([(o.origin[0], o.origin[1], o.origin[0] + o.mask.shape[1], o.origin[1] + o.mask.shape[0])
                     for o in objs], dtype=np.int64).reshape(-1, 4)


def _overlaps(prev: list[_Obj], objs: list[_Obj]) -> np.ndarray:
    """Shared pixels of every same-class pair whose boxes meet (others are 0)."""
    out = np.zeros((len(prev), len(objs)))
    if not prev or not objs:
        return out
    a, b = _boxes(prev), _boxes(objs)
    meet = ((a[:, None, 0] < b[None, :, 2]) & (b[None, :, 0] < a[:, None, 2])
            & (a[:, None, 1] < b[None, :, 3]) & (b[None, :, 1] < a[:, None, 3]))
    for i, j in zip(*np.nonzero(meet)):
        if prev[i].cls == objs[j].cls:
            out[i, j] = _overlap(prev[i], objs[j])
    return out


def _costs(prev: list[_Obj], objs: list[_Obj], overlap: np.ndarray, max_d: float) -> np.ndarray:
    """1 - IoU for overlapping pairs, 1 + distance / max_d within reach, forbidden otherwise."""
    pa = np.array([o.area for o in prev], float)[:, None]
    oa = np.array([o.area for o in objs], float)[None, :]
    pc = np.array([(o.cx, o.cy) for o in prev], float).reshape(-1, 2)
    oc = np.array([(o.cx, o.cy) for o in objs], float).reshape(-1, 2)
    d = np.hypot(pc[:, None, 0] - oc[None, :, 0], pc[:, None, 1] - oc[None, :, 1])
    same = np.array([o.cls for o in prev])[:, None] == np.array([o.cls for o in objs])[None, :]
    cost = np.where(d <= max_d, 1.0 + d / max(max_d, 1e-9), _NO)
    iou = overlap / np.maximum(pa + oa - overlap, 1)
    cost = np.where(overlap > 0, 1.0 - iou, cost)
    return np.where(same, cost, _NO)


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
            tracks = [tr for tr in tracks if t - tr.seen <= gap + 1]  # older tracks have ended
            live = tracks
            ids = [0] * len(objs)
            overlap = _overlaps([tr.last for tr in live], objs)
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
                cost = _costs([live[i].last for i in rows], [objs[j] for j in cols],
                              overlap[np.ix_(rows, cols)], max_d)
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
            known = {tr.tid for tr in live}
            tracks = live + [_Track(tid, objs[j], t) for j, tid in enumerate(ids) if tid not in known]
            out.append(LabelSet([c.replace(object_id=i) for c, i in zip(labels.contours, ids)], labels.shape))
        return TrackResult(out, parents)


@hookimpl
def mia_postprocessors() -> list[Tracker]:
    return [Tracker()]
