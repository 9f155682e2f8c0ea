"""Random patch augmentation applied identically to the image, its class targets and its weights.

Geometric changes (flips, rot90, affine) move all three together; labels and weights are resampled
with nearest-neighbour so classes never blend.  Intensity changes (blur, noise, brightness and
contrast) touch only the image.  Everything is numpy/OpenCV, so it runs in the data thread.
"""

from __future__ import annotations

import cv2
import numpy as np

from mia_core.engine.config import AugmentConfig


def augment_patch(
    image: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray,
    cfg: AugmentConfig,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return augmented copies of a (H, W, C) image, its (H, W) targets and (H, W) weights."""
    if cfg.flip and rng.random() < 0.5:
        image, target, weight = image[:, ::-1], target[:, ::-1], weight[:, ::-1]
    if cfg.flip and rng.random() < 0.5:
        image, target, weight = image[::-1], target[::-1], weight[::-1]
    if cfg.rot90 and image.shape[0] == image.shape[1]:
        k = int(rng.integers(4))
        image, target, weight = np.rot90(image, k), np.rot90(target, k), np.rot90(weight, k)
    image = np.ascontiguousarray(image, np.float32)
    target = np.ascontiguousarray(target)
    weight = np.ascontiguousarray(weight, np.float32)
    if cfg.affine > 0 and rng.random() < cfg.affine:
        scale = float(np.exp(rng.uniform(np.log(cfg.scale_min), np.log(cfg.scale_max))))
        angle = float(rng.uniform(-cfg.rotation, cfg.rotation))
        image, target, weight = affine(image, target, weight, scale, angle)
    if cfg.blur > 0 and rng.random() < cfg.blur and cfg.blur_sigma > 0:
        image = blur(image, float(rng.uniform(0.3, max(cfg.blur_sigma, 0.3))))
    if cfg.noise > 0 and rng.random() < cfg.noise and cfg.noise_std > 0:
        std = float(rng.uniform(0.0, cfg.noise_std))
        image = image + rng.normal(0.0, std, image.shape).astype(np.float32)
    if cfg.brightness_contrast > 0 and rng.random() < cfg.brightness_contrast:
        gain = float(rng.uniform(1.0 - cfg.contrast, 1.0 + cfg.contrast))
        shift = float(rng.uniform(-cfg.brightness, cfg.brightness))
        image = image * np.float32(gain) + np.float32(shift)
    return image.astype(np.float32, copy=False), target, weight


def affine(
    image: np.ndarray, target: np.ndarray, weight: np.ndarray, scale: float, angle: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scale and rotate about the patch centre; borders are mirrored in all three arrays alike."""
    h, w = target.shape
    m = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), angle, scale)
    border = cv2.BORDER_REFLECT_101
    out = cv2.warpAffine(image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=border)
    if out.ndim == 2:
        out = out[:, :, None]
    tgt = cv2.warpAffine(target.astype(np.float32), m, (w, h), flags=cv2.INTER_NEAREST, borderMode=border)
    wgt = cv2.warpAffine(weight, m, (w, h), flags=cv2.INTER_NEAREST, borderMode=border)
    return out, np.rint(tgt).astype(target.dtype), wgt


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of every channel."""
    out = cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT_101)
    return out[:, :, None] if out.ndim == 2 else out
