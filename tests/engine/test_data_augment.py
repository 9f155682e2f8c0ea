"""Augmentations move image, targets and weights together; intensity changes touch the image only."""

import cv2
import numpy as np

from mia_core.engine.augment import affine, augment_patch, blur
from mia_core.engine.config import AugmentConfig

GEOMETRY_ONLY = AugmentConfig(affine=1.0, blur=0, noise=0, brightness_contrast=0)
INTENSITY_ONLY = AugmentConfig(flip=False, rot90=False, affine=0, blur=1.0, noise=1.0, brightness_contrast=1.0)


def _regions(size=64, seed=0):
    """Targets of a few big rectangles, an image equal to the targets, weights = target + 1."""
    rng = np.random.default_rng(seed)
    target = np.zeros((size, size), np.int16)
    for k in range(1, 4):
        y, x = rng.integers(0, size - 20, 2)
        target[y:y + 20, x:x + 20] = k
    target[:4, :] = -1  # an unlabelled strip
    image = target.astype(np.float32)[:, :, None]
    weight = (target + 1).astype(np.float32)
    return image, target, weight


def test_geometric_changes_keep_image_targets_and_weights_aligned():
    image, target, weight = _regions()
    rng = np.random.default_rng(0)
    changed = 0
    for _ in range(30):
        im, tg, wt = augment_patch(image, target, weight, GEOMETRY_ONLY, rng)
        assert im.shape == image.shape and tg.shape == target.shape and tg.dtype == target.dtype
        # Nearest-neighbour for targets and weights: identical maps, values only from the input.
        np.testing.assert_array_equal(wt, tg + 1)
        assert set(np.unique(tg)) <= set(np.unique(target))
        # The image (bilinear) agrees with the targets away from region edges.
        edges = cv2.dilate((cv2.Laplacian(tg.astype(np.float32), cv2.CV_32F) != 0).astype(np.uint8), np.ones((3, 3)))
        inner = edges == 0
        inner[:2], inner[-2:], inner[:, :2], inner[:, -2:] = False, False, False, False
        np.testing.assert_allclose(im[..., 0][inner], tg[inner], atol=1e-4)
        changed += not np.array_equal(tg, target)
    assert changed > 25


def test_flips_and_rot90_are_exact():
    image, target, weight = _regions(seed=1)
    cfg = AugmentConfig(affine=0, blur=0, noise=0, brightness_contrast=0)
    seen = set()
    rng = np.random.default_rng(3)
    for _ in range(40):
        im, tg, wt = augment_patch(image, target, weight, cfg, rng)
        np.testing.assert_array_equal(im[..., 0], tg.astype(np.float32))
        np.testing.assert_array_equal(wt, tg + 1)
        candidates = [np.rot90(f, k) for f in (target, target[:, ::-1]) for k in range(4)]
        match = [i for i, c in enumerate(candidates) if np.array_equal(c, tg)]
        assert match
        seen.add(match[0])
    assert len(seen) == 8  # all eight symmetries of the square occur


def test_intensity_changes_leave_targets_and_weights():
    image, target, weight = _regions(seed=2)
    im, tg, wt = augment_patch(image, target, weight, INTENSITY_ONLY, np.random.default_rng(0))
    np.testing.assert_array_equal(tg, target)
    np.testing.assert_array_equal(wt, weight)
    assert not np.allclose(im, image)


def test_affine_matches_opencv_reference_for_a_rotation():
    image, target, weight = _regions(seed=3)
    im, tg, wt = affine(image, target, weight, 1.0, 90.0)
    # A 90-degree rotation about the centre of an even square is an exact rot90.
    np.testing.assert_array_equal(tg, np.rot90(target, 1))
    np.testing.assert_allclose(im[..., 0], np.rot90(image[..., 0], 1), atol=1e-4)
    np.testing.assert_array_equal(wt, np.rot90(weight, 1))


def test_blur_keeps_mean_and_channels():
    rng = np.random.default_rng(0)
    image = rng.normal(size=(40, 40, 3)).astype(np.float32)
    out = blur(image, 1.0)
    assert out.shape == image.shape
    ref = np.stack([cv2.GaussianBlur(image[..., c], (0, 0), 1.0, borderType=cv2.BORDER_REFLECT_101)
                    for c in range(3)], -1)
    np.testing.assert_allclose(out, ref, atol=1e-6)
    assert out.std() < image.std()
