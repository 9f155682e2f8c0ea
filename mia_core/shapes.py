"""Generated labelled objects (ellipses, blobs, thin curved objects, touching pairs) for the
assistants' tests, demos and benchmarks: a noisy 8-bit picture and the mask of one object in it.

Objects have a bright rim and an interior anywhere between the rim and the background (as
membrane-stained cells look), so that colour alone does not always give the object."""

from __future__ import annotations

import cv2
import numpy as np

KINDS = ("ellipse", "blob", "thin", "touching")


def _ellipse(shape: tuple[int, int], cx: float, cy: float, a: float, b: float, angle: float) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    cv2.ellipse(m, (int(cx), int(cy)), (int(a), int(b)), float(angle), 0, 360, 1, -1)
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


def make_object(kind: str, rng: np.random.Generator, size: int = 160) -> tuple[np.ndarray, np.ndarray]:
    """(picture (size, size, 3) uint8, mask (size, size) bool) of one object of ``kind``."""
    if kind not in KINDS:
        raise ValueError(f"unknown shape kind {kind!r}; expected one of {', '.join(KINDS)}")
    shape = (size, size)
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
        a = c - d * r * 0.95
        b = c + d * r * 0.95
        mask = _ellipse(shape, a[0], a[1], r, r * rng.uniform(0.75, 1.0), rng.uniform(0, 180))
        other = _ellipse(shape, b[0], b[1], r, r * rng.uniform(0.75, 1.0), rng.uniform(0, 180)) & ~mask
    bg, fg = rng.uniform(30, 90), rng.uniform(140, 220)
    img = np.full(shape, bg, np.float32)
    # stained like cells often are: a bright rim, an interior anywhere between rim and background
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    for m in (mask, other):
        if not m.any():
            continue
        inner = cv2.erode(m.astype(np.uint8), kernel).astype(bool)
        img[m] = fg
        img[inner] = bg + rng.uniform(0.15, 1.0) * (fg - bg)
    # a gradient and texture so colour alone is not the answer everywhere
    yy, xx = np.mgrid[:size, :size] / size
    img += 25 * (xx - 0.5) + rng.normal(0, 18, shape)
    img = cv2.GaussianBlur(img, (0, 0), 1.0)
    picture = np.repeat(np.clip(img, 0, 255).astype(np.uint8)[..., None], 3, 2)
    return picture, mask


def make_set(kinds: tuple[str, ...], per_kind: int, seed: int, size: int = 160) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``per_kind`` objects of each kind: (kind, picture, mask)."""
    rng = np.random.default_rng(seed)
    return [(k, *make_object(k, rng, size)) for k in kinds for _ in range(per_kind)]
