"""The object scale of training labels and the default postprocessing it implies."""

import math

import numpy as np

from mia_core.object_scale import (
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
    assert scales == {1: ClassScale(3, 100.0, True)}
    plan = default_postprocessing(scales)
    assert plan[1].separate and plan[1].min_size == round(100 / 8)
    assert plan[1].min_distance == round(math.sqrt(100 / math.pi))


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
    assert not plan[1].separate and plan[1].min_size == 145
    assert plan[2].separate
    # explicit options reach every foreground class; --no-separate and --min-size 0 turn all off
    assert resolve_postprocessing(scales, 3, separate=False, min_size=0) == {}
    both = resolve_postprocessing(scales, 4, separate=True, min_distance=7)
    assert sorted(both) == [1, 2, 3] and all(p.separate and p.min_distance == 7 for p in both.values())
    assert both[3].min_size == 0  # class 3 had no objects: no size default


def test_scales_pool_all_images_and_round_trip_through_json():
    a = _two_touching_and_one_apart()
    b = (np.zeros((10, 10), np.int16), np.zeros((10, 10), np.int32))
    scales = measure_scales([a, b, a])
    assert scales[1].count == 6 and scales[1].median_area == 100.0
    assert scales_from_json(scales_to_json(scales)) == scales
    assert scales_from_json({}) == {} and scales_from_json(None) == {}
    assert describe_scales(scales, ["background", "nuclei"]) == (
        "objects: class 1 'nuclei': 6, median 100 px; predictions will split touching ones "
        "(min distance 6 px) and drop objects under 12 px")
