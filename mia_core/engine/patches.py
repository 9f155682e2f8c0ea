"""Random training patches and fixed validation tiles cut from labelled images.

Images smaller than the patch are padded (mirrored pixels, weight 0 so padding never trains).
"Prefer labelled parts" re-draws up to N patches holding fewer than M training pixels, so sparse
labels still fill the batches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mia_core.engine.dataset import IGNORED, LabelledImage, TrainingDataError


@dataclass
class Patch:
    """One image patch with its targets and weights."""

    image: np.ndarray  # (P, P, C) float32
    target: np.ndarray  # (P, P) int16, IGNORED where it does not train
    weight: np.ndarray  # (P, P) float32


def pad_to(sample: LabelledImage, size: int) -> LabelledImage:
    """A copy grown to at least size x size: mirrored image, ignored targets, zero weights."""
    h, w = sample.target.shape
    ph, pw = max(size - h, 0), max(size - w, 0)
    if not ph and not pw:
        return sample
    mode = "reflect" if min(h, w) > 1 else "edge"
    image = np.pad(sample.image, ((0, ph), (0, pw), (0, 0)), mode=mode)
    target = np.pad(sample.target, ((0, ph), (0, pw)), constant_values=IGNORED)
    weight = np.pad(sample.weight, ((0, ph), (0, pw)))
    instances = np.pad(sample.instances, ((0, ph), (0, pw)))
    return LabelledImage(sample.path, sample.frame, image, target, instances, weight)


class PatchSampler:
    """Draws random square patches, images chosen in proportion to their area."""

    def __init__(
        self,
        samples: list[LabelledImage],
        size: int,
        prefer_tries: int = 0,
        min_labelled: int = 0,
    ) -> None:
        if not samples:
            raise TrainingDataError("no training images to draw patches from")
        if all(min(s.target.shape) < size for s in samples):
            largest = max(min(s.target.shape) for s in samples)
            raise TrainingDataError(
                f"patch size {size} is larger than every training image (largest side fits {largest} px)"
            )
        self.size = size
        self.samples = [pad_to(s, size) for s in samples]
        areas = np.array([s.target.size for s in self.samples], np.float64)
        self.probs = areas / areas.sum()
        self.prefer_tries = prefer_tries
        self.min_labelled = min_labelled

    def draw(self, rng: np.random.Generator) -> Patch:
        """One patch; with "prefer labelled parts", the first of up to N+1 draws with >= M labelled pixels."""
        patch = self._draw_once(rng)
        for _ in range(self.prefer_tries):
            if np.count_nonzero(patch.weight) >= self.min_labelled:
                break
            patch = self._draw_once(rng)
        return patch

    def _draw_once(self, rng: np.random.Generator) -> Patch:
        s = self.samples[int(rng.choice(len(self.samples), p=self.probs))]
        h, w = s.target.shape
        y = int(rng.integers(0, h - self.size + 1))
        x = int(rng.integers(0, w - self.size + 1))
        win = (slice(y, y + self.size), slice(x, x + self.size))
        return Patch(s.image[win], s.target[win], s.weight[win])


def tile_starts(length: int, tile: int, step: int) -> list[int]:
    """Start offsets of tiles of size ``tile`` covering ``length`` with stride at most ``step``."""
    if length <= tile:
        return [0]
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return starts


def validation_patches(
    samples: list[LabelledImage], size: int, limit: int, seed: int = 0
) -> list[Patch]:
    """A fixed set of non-overlapping patches holding labelled pixels, at most ``limit`` of them."""
    found: list[Patch] = []
    for s in samples:
        s = pad_to(s, size)
        h, w = s.target.shape
        for y in tile_starts(h, size, size):
            for x in tile_starts(w, size, size):
                win = (slice(y, y + size), slice(x, x + size))
                if np.any(s.target[win] >= 0):
                    found.append(Patch(s.image[win], s.target[win], s.weight[win]))
    if len(found) > limit:
        keep = np.sort(np.random.default_rng(seed).choice(len(found), limit, replace=False))
        found = [found[i] for i in keep]
    return found
