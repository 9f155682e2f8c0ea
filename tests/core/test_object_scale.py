"""The object scale of training labels and the default postprocessing it implies."""

import cv2
import numpy as np
from scipy import ndimage

from mia_core.instance_split import split_mask
from mia_core.object_scale import (
    MIN_OBJECTS_FOR_SIZE,
    ClassScale,
    default_postprocessing,
    describe_scales,
    measure_scales,
    resolve_postprocessing,
    scales_from_json,
    scales_to_json,
)


def _two_touching_and_one_apart():
    target = np.zeros((40, 60), np.int16)
    instances = np.zeros((40, 60), np.int32)
    instances[5:15, 5:15] = 1  # 100 px
    instances[5:15, 15:27] = 2  # 120 px, shares an edge with object 1
    instances[25:33, 40:48] = 3  # 64 px, apart
    target[instances > 0] = 1
    return target, instances


def test_touching_squares_and_one_apart():
    scales = measure_scales([_two_touching_and_one_apart()])
    s = scales[1]
    assert (s.count, s.median_area, s.touching) == (3, 100.0, True)
    plan = default_postprocessing(scales)
    assert plan[1].separate and plan[1].min_distance == s.min_distance
    assert plan[1].min_size == 0  # three objects give no typical size to call a piece a speck by
    # the calibrated distance splits the labelled pair apart and leaves the lone square whole
    target, instances = _two_touching_and_one_apart()
    assert _parts(instances, s.min_distance) == 3


def _parts(instances, distance):
    """How many objects the split makes of the regions of an instance map."""
    regions, n = ndimage.label(instances > 0, structure=np.ones((3, 3)))
    return sum(int(split_mask(np.pad(regions == i, 1), distance).max()) for i in range(1, n + 1))


def _pairs_and_dumbbells(rng, rows=6):
    """Touching pairs of discs (radius 10, centres 20 apart; two objects each) and dumbbells (two
    overlapping discs 14 apart labelled as one object): the user's labels say how far to split."""
    target = np.zeros((60 * rows, 200), np.int16)
    instances = np.zeros(target.shape, np.int32)
    for row in range(rows):
        cy = 30 + 60 * row
        x = 20 + int(rng.integers(0, 5))
        for cx in (x, x + 20):
            disc = np.zeros(target.shape, np.uint8)
            cv2.circle(disc, (cx, cy), 10, 1, -1)
            instances[disc > 0] = instances.max() + 1
        x = 110 + int(rng.integers(0, 5))
        dumbbell = np.zeros(target.shape, np.uint8)
        cv2.circle(dumbbell, (x, cy), 10, 1, -1)
        cv2.circle(dumbbell, (x + 14, cy), 10, 1, -1)
        instances[dumbbell > 0] = instances.max() + 1
    target[instances > 0] = 1
    return target, instances


def test_the_split_distance_is_calibrated_on_how_the_user_separated_objects():
    scales = measure_scales([_pairs_and_dumbbells(np.random.default_rng(0))])
    s = scales[1]
    radius = round(np.sqrt(s.median_area / np.pi))
    _, fresh = _pairs_and_dumbbells(np.random.default_rng(5))
    assert fresh.max() == 18
    assert _parts(fresh, radius) > 18  # a typical radius cuts the dumbbells in two
    assert _parts(fresh, s.min_distance) == 18  # the calibrated distance keeps them and splits the pairs
    assert default_postprocessing(scales)[1].min_distance == s.min_distance
    # a scale stored before calibration falls back to the radius
    old = {1: ClassScale(s.count, s.median_area, True)}
    assert default_postprocessing(old)[1].min_distance == radius


def test_diagonal_neighbours_touch_but_objects_of_other_classes_do_not():
    target = np.zeros((20, 20), np.int16)
    instances = np.zeros((20, 20), np.int32)
    instances[2:6, 2:6], target[2:6, 2:6] = 1, 1
    instances[6:10, 6:10], target[6:10, 6:10] = 2, 2  # corner to corner with object 1, another class
    instances[12:16, 12:16], target[12:16, 12:16] = 3, 2
    assert not any(s.touching for s in measure_scales([(target, instances)]).values())
    target[6:10, 6:10] = 1  # same class now: touching at the diagonal
    assert measure_scales([(target, instances)])[1].touching


def test_a_class_with_one_long_object_is_never_separated():
    target = np.zeros((30, 300), np.int16)
    instances = np.zeros((30, 300), np.int32)
    instances[10:14, 5:295], target[10:14, 5:295] = 1, 1  # a dendrite
    instances[20:25, 20:25], target[20:25, 20:25] = 2, 2  # class 2: two touching blobs
    instances[20:25, 25:30], target[20:25, 25:30] = 3, 2
    scales = measure_scales([(target, instances)])
    plan = default_postprocessing(scales)
    assert scales[1] == ClassScale(1, 290 * 4.0, False)
    assert 1 not in plan  # one object: neither split nor a size to drop pieces under
    many = {1: ClassScale(MIN_OBJECTS_FOR_SIZE, 290 * 4.0, False)}
    assert default_postprocessing(many)[1].min_size == 290 and not default_postprocessing(many)[1].separate
    assert plan[2].separate
    # explicit options reach every foreground class; --no-separate and --min-size 0 turn all off
    assert resolve_postprocessing(scales, 3, separate=False, min_size=0) == {}
    both = resolve_postprocessing(scales, 4, separate=True, min_distance=7)
    assert sorted(both) == [1, 2, 3] and all(p.separate and p.min_distance == 7 for p in both.values())
    assert both[3].min_size == 0  # class 3 had no objects: no size default


def test_scales_pool_all_images_and_round_trip_through_json():
    a = _two_touching_and_one_apart()
    b = (np.zeros((10, 10), np.int16), np.zeros((10, 10), np.int32))
    scales = measure_scales([a, b, a, a, a])
    assert scales[1].count == 12 and scales[1].median_area == 100.0
    assert scales_from_json(scales_to_json(scales)) == scales
    assert scales_from_json({}) == {} and scales_from_json(None) == {}
    assert describe_scales(scales, ["background", "nuclei"]) == (
        "objects: class 1 'nuclei': 12, median 100 px; predictions will split touching ones "
        f"(min distance {scales[1].min_distance} px) and drop objects under 25 px")


def test_the_calibration_sample_stays_bounded_and_spans_the_whole_stream():
    from mia_core.object_scale import Reservoir

    keep = Reservoir(50)
    for i in range(10_000):
        keep.add(i)
    assert keep.seen == 10_000 and len(keep.items) == 50 and len(set(keep.items)) == 50
    # uniform over the stream: about 5 of the 50 in each tenth, none of the tenths empty
    tenths = np.bincount(np.asarray(keep.items) // 1000, minlength=10)
    assert tenths.min() >= 1 and tenths.max() <= 14
