"""Border weights against a brute-force evaluation of the U-Net paper's formula."""

import numpy as np
import pytest

from mia_core.engine.border_weights import separation_weights


def brute_force(instances: np.ndarray, w0: float, sigma: float) -> np.ndarray:
    """w0*exp(-(d1+d2)^2/(2 sigma^2)) on background pixels, distances to every object pixel by hand."""
    h, w = instances.shape
    ids = [i for i in np.unique(instances) if i > 0]
    out = np.zeros((h, w))
    if len(ids) < 2:
        return out
    for y in range(h):
        for x in range(w):
            if instances[y, x]:
                continue
            dists = []
            for obj in ids:
                ys, xs = np.nonzero(instances == obj)
                dists.append(np.sqrt((ys - y) ** 2 + (xs - x) ** 2).min())
            d1, d2 = sorted(dists)[:2]
            out[y, x] = w0 * np.exp(-((d1 + d2) ** 2) / (2 * sigma**2))
    return out


def _objects() -> np.ndarray:
    inst = np.zeros((30, 34), np.int32)
    inst[4:12, 3:10] = 1
    inst[5:14, 13:20] = 2  # 3 px gap to object 1
    inst[20:27, 8:30] = 3
    inst[0:2, 31:34] = 4
    return inst


@pytest.mark.parametrize("w0,sigma", [(10.0, 5.0), (4.0, 2.0)])
def test_matches_brute_force_formula(w0, sigma):
    inst = _objects()
    got = separation_weights(inst, w0, sigma)
    want = brute_force(inst, w0, sigma)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # The gap between the two close objects carries large weights, object pixels none.
    assert got[8, 11] > 0.1 * w0
    assert np.all(got[inst > 0] == 0)


def test_fewer_than_two_objects_give_zero():
    inst = np.zeros((20, 20), np.int32)
    assert not separation_weights(inst).any()
    inst[5:9, 5:9] = 7
    assert not separation_weights(inst).any()


def test_far_objects_use_cutoff_window_exactly():
    inst = np.zeros((40, 200), np.int32)
    inst[10:20, 5:15] = 1
    inst[10:20, 180:190] = 2  # far beyond the cut-off: the weights are ~0 everywhere
    got = separation_weights(inst, 10.0, 5.0)
    want = brute_force(inst, 10.0, 5.0)
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_touching_objects_are_cut_apart_by_a_weighted_background_gap():
    from mia_core.engine.config import TrainConfig
    from mia_core.engine.dataset import LabelledImage, touching_pixels, weigh

    inst = np.zeros((20, 30), np.int32)
    inst[5:15, 3:12] = 1
    inst[5:15, 12:22] = 2  # shares the line x = 11 | 12 with object 1
    inst[6:9, 25:28] = 3  # alone
    # Brute force: an object pixel with another object's pixel among its 8 neighbours.
    expected = np.zeros_like(inst, bool)
    for y, x in zip(*np.nonzero(inst)):
        around = inst[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2]
        expected[y, x] = bool(np.any((around > 0) & (around != inst[y, x])))
    np.testing.assert_array_equal(touching_pixels(inst), expected)
    assert expected[:, 11].sum() == 10 and expected[:, 12].sum() == 10 and expected.sum() == 20

    def sample():
        return LabelledImage("a.png", None, np.zeros((20, 30, 1), np.float32), (inst > 0).astype(np.int16),
                             inst.copy())

    plain, cut = sample(), sample()
    weigh([plain], np.ones(2, np.float32), TrainConfig())
    weigh([cut], np.ones(2, np.float32), TrainConfig(separate_contours=True))
    np.testing.assert_array_equal(plain.target, inst > 0)  # without separation the labels stay
    assert np.all(cut.target[expected] == 0) and np.all(cut.target[(inst > 0) & ~expected] == 1)
    # The gap trains as background with the border term on top: w0 exp(-(1+1)^2 / 2 sigma^2) + 1 at most.
    gap_weight = cut.weight[7, 11]
    assert gap_weight == pytest.approx(1 + separation_weights(cut.instances)[7, 11]) and gap_weight > 5
