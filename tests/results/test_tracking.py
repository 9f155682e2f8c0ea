"""Tracking of generated objects that move, appear, disappear, divide and pass close by."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.draw import disk

from mia_core.labels import LabelSet
from mia_core.plugins import load_plugins
from mia_core.raster import contours_from_mask


@pytest.fixture(scope="module")
def tracker():
    return load_plugins(disabled=set()).get("postprocessors", "tracking")


def _frame(objects: list[tuple[float, float, int]], shape=(120, 200), cls: int = 1) -> LabelSet:
    """One contour per (x, y, radius) disc."""
    out = []
    for x, y, r in objects:
        m = np.zeros(shape, bool)
        m[disk((y, x), r, shape=shape)] = True
        out += contours_from_mask(m, cls)
    return LabelSet(out, shape)


def _ids_at(frame: LabelSet) -> dict[tuple[int, int], int]:
    """Track id of each contour by its rounded centre."""
    from mia_core.measure import centroid, local_mask

    out = {}
    for c in frame.contours:
        cx, cy = centroid(*local_mask(c))
        out[(round(cx), round(cy))] = c.object_id
    return out


def test_moving_appearing_disappearing_dividing_and_close_objects(tracker):
    frames = []
    for t in range(6):
        objs = [(20 + 6 * t, 30, 8)]  # A moves right, overlapping itself
        objs.append((180 - 6 * t, 30, 8) if t != 2 else None)  # B moves left, missed at t=2 (gap 1)
        objs.append((100, 100, 9) if t < 3 else None)  # C disappears after t=2
        if t >= 2:
            objs.append((40, 95, 6))  # D appears at t=2
        if t < 3:
            objs.append((150, 95, 10))  # E divides at t=3 into two halves
        else:
            objs += [(143, 95, 6), (157, 95, 6)]
        frames.append(_frame([o for o in objs if o is not None]))
    result = tracker.apply_sequence(frames, max_distance=35, gap=1)
    ids = [_ids_at(f) for f in result.frames]
    a = [ids[t][(20 + 6 * t, 30)] for t in range(6)]
    b = [ids[t][(180 - 6 * t, 30)] for t in range(6) if t != 2]
    assert len(set(a)) == 1 and len(set(b)) == 1 and a[0] != b[0]
    c = ids[0][(100, 100)]
    assert all(ids[t][(100, 100)] == c for t in range(3))
    assert c not in {v for t in range(3, 6) for v in ids[t].values()}
    d = {ids[t][(40, 95)] for t in range(2, 6)}
    assert len(d) == 1 and d.pop() not in ids[0].values()
    e = ids[0][(150, 95)]
    kids = {ids[3][(143, 95)], ids[3][(157, 95)]}
    assert len(kids) == 2 and e not in kids
    assert result.parents == {k: e for k in kids}
    assert ids[5][(143, 95)] == ids[3][(143, 95)] and ids[5][(157, 95)] == ids[3][(157, 95)]
    # every object of a frame has its own id
    for f in ids:
        assert len(set(f.values())) == len(f)


def test_close_objects_keep_their_tracks_and_classes_never_mix(tracker):
    frames = []
    for t in range(5):
        a = _frame([(40 + 4 * t, 50, 8)])
        b = _frame([(88 - 4 * t, 50, 8)])  # they close in until a 1-pixel gap is left
        frames.append(LabelSet(b.contours + a.contours if t % 2 else a.contours + b.contours, a.shape))
    gap = frames[-1].contours[1].bbox[0] - frames[-1].contours[0].bbox[2]
    assert gap == 1
    result = tracker.apply_sequence(frames)
    def by_side(f):
        return [c.object_id for c in sorted(f.contours, key=lambda c: c.bbox[0])]

    first = by_side(result.frames[0])
    assert len(set(first)) == 2
    for f in result.frames:
        assert by_side(f) == first
    mixed = [LabelSet(_frame([(50, 50, 8)]).contours, (120, 200)),
             LabelSet(_frame([(52, 50, 8)], cls=2).contours, (120, 200))]
    r = tracker.apply_sequence(mixed)
    assert r.frames[0].contours[0].object_id != r.frames[1].contours[0].object_id


def test_distance_fallback_and_limit(tracker):
    near = tracker.apply_sequence([_frame([(20, 20, 4)]), _frame([(50, 20, 4)])], max_distance=35)
    assert near.frames[0].contours[0].object_id == near.frames[1].contours[0].object_id
    far = tracker.apply_sequence([_frame([(20, 20, 4)]), _frame([(60, 20, 4)])], max_distance=35)
    assert far.frames[0].contours[0].object_id != far.frames[1].contours[0].object_id


def test_one_frame_tracks_trivially(tracker):
    result = tracker.apply_sequence([_frame([(20, 20, 5), (60, 60, 5)])])
    assert sorted(c.object_id for c in result.frames[0].contours) == [1, 2]
    assert result.parents == {}
