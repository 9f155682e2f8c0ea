"""Training batches: random patches, augmented, stacked; prepared in a thread while the step runs."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from mia_core.engine.augment import augment_patch
from mia_core.engine.config import AugmentConfig
from mia_core.engine.patches import Patch, PatchSampler


@dataclass
class Batch:
    """Stacked patches: images (B, P, P, C) float32, targets (B, P, P) int32, weights (B, P, P) float32."""

    images: np.ndarray
    targets: np.ndarray
    weights: np.ndarray


def stack(patches: list[Patch]) -> Batch:
    """Stack patches into one batch (ignored targets become class 0 with weight 0)."""
    return Batch(
        np.stack([p.image for p in patches]).astype(np.float32),
        np.stack([np.maximum(p.target, 0) for p in patches]).astype(np.int32),
        np.stack([np.where(p.target >= 0, p.weight, 0.0) for p in patches]).astype(np.float32),
    )


def make_batch(
    sampler: PatchSampler, batch_size: int, augment: AugmentConfig | None, rng: np.random.Generator
) -> Batch:
    """Draw, augment and stack one batch."""
    patches = []
    for _ in range(batch_size):
        p = sampler.draw(rng)
        if augment is not None:
            p = Patch(*augment_patch(p.image, p.target, p.weight, augment, rng))
        patches.append(p)
    return stack(patches)


class BatchStream:
    """An endless stream of batches made ahead in one background thread (numpy/OpenCV free the GIL)."""

    def __init__(
        self,
        sampler: PatchSampler,
        batch_size: int,
        augment: AugmentConfig | None,
        rng: np.random.Generator,
        ahead: int = 2,
    ) -> None:
        self._args = (sampler, batch_size, augment, rng)
        self._queue: queue.Queue[Batch | BaseException] = queue.Queue(maxsize=ahead)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mia-batches", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._closed.is_set():
                self._put(make_batch(*self._args))
        except BaseException as exc:  # surfaced in the training thread
            self._put(exc)

    def _put(self, item: Batch | BaseException) -> None:
        """Queue an item, giving up once the stream is closed."""
        while not self._closed.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def __iter__(self) -> Iterator[Batch]:
        return self

    def __next__(self) -> Batch:
        item = self._queue.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def close(self) -> None:
        """Stop the thread; batches still queued are dropped."""
        self._closed.set()
        self._thread.join(timeout=5)
