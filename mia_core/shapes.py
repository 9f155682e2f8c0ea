"""Generated labelled objects (ellipses, blobs, thin curved objects, touching pairs) for the
assistants' tests, demos and benchmarks: a fluorescence-like 8-bit picture and the mask of one object.

What a picture is, exactly (so that figures measured on it can be judged):

- the target object (the mask) and, for ``touching``, a second object of the same kind of shape
  pressed against it (overlapping by about 10 % of the radius, its own pixels excluded from the mask);
- 0-3 neighbours (small ellipses) elsewhere in the picture, none touching the target, as in a
  crowded field of cells;
- every object is a filled, stained region (nuclei-like, no bright rim) with its own brightness:
  objects of one picture differ by at most +-15 %, so touching objects are not told apart by
  intensity; inside each object a smooth texture (+-15 %) as chromatin gives;
- a textured background: dim autofluorescence (smooth noise at two scales);
- blurred by a Gaussian point-spread function (sigma 1.2-2 px);
- uneven illumination: a smooth multiplicative field (0.6-1.0 across the picture);
- Poisson shot noise at 15-60 photons for the brightest object, then Gaussian read noise;
- scaled to 8 bits with the 0.2 %/99.8 % percentiles as black and white (as a display does).

The mask is the object before blurring. The shapes are as before: ellipses and blobs of radius
18-30 % of the picture, thin curved objects 5-8 px wide, touching pairs of radius 14-20 %.
"""

from __future__ import annotations

import cv2
import numpy as np

KINDS = ("ellipse", "blob", "thin", "touching")


def _ellipse(shape: tuple[int, int], cx: float, cy: float, a: float, b: float, angle: float) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    cv2.ellipse(m, (int(round(cx)), int(round(cy))), (max(int(a), 1), max(int(b), 1)), float(angle), 0, 360, 1, -1)
    return m.astype(bool)


def _blob(shape: tuple[int, int], cx: float, cy: float, r: float, rng: np.random.Generator) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    radius = r * (1 + sum(rng.uniform(-0.25, 0.25) * np.cos(k * t + rng.uniform(0, 2 * np.pi)) for k in (2, 3, 4)))
    pts = np.stack([cx + radius * np.cos(t), cy + radius * np.sin(t)], 1).round().astype(np.int32)
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [pts], 1)
    return m.astype(bool)


def _thin(shape: tuple[int, int], cx: float, cy: float, r: float, rng: np.random.Generator) -> np.ndarray:
    t = np.linspace(-1, 1, 40)
    bend = rng.uniform(-0.8, 0.8)
    angle = rng.uniform(0, np.pi)
    x, y = t * r, bend * r * (t**2 - 0.5)
    c, s = np.cos(angle), np.sin(angle)
    pts = np.stack([cx + c * x - s * y, cy + s * x + c * y], 1).round().astype(np.int32)
    m = np.zeros(shape, np.uint8)
    cv2.polylines(m, [pts], False, 1, thickness=int(rng.integers(5, 9)))
    return m.astype(bool)


def _smooth_noise(shape: tuple[int, int], sigma: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian-filtered white noise scaled to unit standard deviation."""
    n = cv2.GaussianBlur(rng.normal(0, 1, shape).astype(np.float32), (0, 0), sigma)
    return n / max(float(n.std()), 1e-6)


def _neighbours(shape: tuple[int, int], keep_clear: np.ndarray, rng: np.random.Generator, size: int) -> list[np.ndarray]:
    """0-3 small ellipses that stay at least 3 px away from ``keep_clear``."""
    clear = cv2.dilate(keep_clear.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    out: list[np.ndarray] = []
    for _ in range(int(rng.integers(0, 4))):
        for _try in range(10):
            r = size * rng.uniform(0.08, 0.16)
            cx, cy = rng.uniform(0, size, 2)
            m = _ellipse(shape, cx, cy, r, r * rng.uniform(0.6, 1.0), rng.uniform(0, 180))
            if m.any() and not (m & clear).any():
                out.append(m)
                clear |= cv2.dilate(m.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
                break
    return out


def _target(kind: str, shape: tuple[int, int], rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(mask of the object, mask of the object pressed against it, empty unless ``touching``)."""
    c = size / 2 + rng.uniform(-size / 10, size / 10, 2)
    r = size * rng.uniform(0.18, 0.3)
    other = np.zeros(shape, bool)
    if kind == "ellipse":
        mask = _ellipse(shape, c[0], c[1], r, r * rng.uniform(0.5, 1.0), rng.uniform(0, 180))
    elif kind == "blob":
        mask = _blob(shape, c[0], c[1], r, rng)
    elif kind == "thin":
        mask = _thin(shape, c[0], c[1], r * 1.3, rng)
    else:
        r = size * rng.uniform(0.14, 0.2)
        angle = rng.uniform(0, 2 * np.pi)
        d = np.array([np.cos(angle), np.sin(angle)])
        a = c - d * r * 0.9
        b = c + d * r * 0.9
        mask = _ellipse(shape, a[0], a[1], r, r * rng.uniform(0.75, 1.0), rng.uniform(0, 180))
        other = _ellipse(shape, b[0], b[1], r, r * rng.uniform(0.75, 1.0), rng.uniform(0, 180)) & ~mask
    return mask, other


def make_object(kind: str, rng: np.random.Generator, size: int = 160) -> tuple[np.ndarray, np.ndarray]:
    """(picture (size, size, 3) uint8, mask (size, size) bool) of one object of ``kind``."""
    if kind not in KINDS:
        raise ValueError(f"unknown shape kind {kind!r}; expected one of {', '.join(KINDS)}")
    shape = (size, size)
    mask, other = _target(kind, shape, rng, size)
    objects = [mask, other] + _neighbours(shape, mask | other, rng, size)
    # stain: each object a flat brightness near 1 (+-15 %) times a smooth texture
    stain = np.zeros(shape, np.float32)
    texture = 1 + 0.15 * _smooth_noise(shape, 2.0, rng)
    for m in objects:
        if m.any():
            stain[m] = rng.uniform(0.85, 1.15) * texture[m]
    background = rng.uniform(0.05, 0.2) * (1 + 0.5 * _smooth_noise(shape, size / 8, rng)) \
        + 0.03 * np.abs(_smooth_noise(shape, 3.0, rng))
    psf = rng.uniform(1.2, 2.0)
    signal = cv2.GaussianBlur(stain, (0, 0), psf) + np.clip(background, 0, None)
    yy, xx = np.mgrid[:size, :size] / size
    centre = rng.uniform(-0.3, 1.3, 2)
    illumination = 1 - 0.4 * np.clip(((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / 1.5, 0, 1)
    photons = rng.uniform(15, 60)
    counts = rng.poisson(np.clip(signal * illumination, 0, None) * photons).astype(np.float32)
    counts += rng.normal(0, rng.uniform(0.5, 2.0), shape)
    lo, hi = np.percentile(counts, (0.2, 99.8))
    img = (counts - lo) / max(hi - lo, 1e-6) * 255
    picture = np.repeat(np.clip(img, 0, 255).astype(np.uint8)[..., None], 3, 2)
    return picture, mask


def make_set(kinds: tuple[str, ...], per_kind: int, seed: int, size: int = 160) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``per_kind`` objects of each kind: (kind, picture, mask)."""
    rng = np.random.default_rng(seed)
    return [(k, *make_object(k, rng, size)) for k in kinds for _ in range(per_kind)]
