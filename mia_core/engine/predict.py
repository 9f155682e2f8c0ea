"""Tiled prediction of images of any size, blended without seams, written as contours.

Tiles overlap by ``overlap`` pixels; each tile's class probabilities are weighted by a window that
ramps as sin^2 over the overlap on the sides that meet another tile (and stays 1 at the image
border), and the weighted sum is divided by the summed weights.  Tiles go through the network
``TILE_BATCH`` at a time on one device (replicating parameters over several CPU devices only slowed
inference down).
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import jax
import numpy as np
from flax import nnx

from mia_core.engine.checkpoint import ModelInfo, load_model
from mia_core.engine.config import SIZE_MULTIPLE
from mia_core.engine.dataset import frame_channels, normalise
from mia_core.engine.patches import tile_starts
from mia_core.engine.steps import predict_probabilities

DEFAULT_TILE = 512
DEFAULT_OVERLAP = 64
TILE_BATCH = 4  # tiles per network call (a batch of 1 left a core idle on 2-core CPUs)

FieldOfView = tuple[int, int, int, int]  # x, y, width, height


class PredictionError(ValueError):
    """Prediction cannot run on these images with this model; the message names what and why."""


@dataclass
class TileSettings:
    """Tile size (rounded up to a multiple of 32) and overlap between neighbouring tiles."""

    tile: int = DEFAULT_TILE
    overlap: int = DEFAULT_OVERLAP

    def checked(self) -> "TileSettings":
        """Validated copy with the tile rounded up to the network's size multiple."""
        tile = _round_up(max(int(self.tile), SIZE_MULTIPLE))
        if not 0 <= self.overlap < tile // 2 + 1:
            raise PredictionError(f"tile overlap must be between 0 and half the tile ({tile // 2}), got {self.overlap}")
        return TileSettings(tile, int(self.overlap))


def _round_up(n: int) -> int:
    return int(math.ceil(n / SIZE_MULTIPLE) * SIZE_MULTIPLE)


def ramp(overlap: int) -> np.ndarray:
    """sin^2 ramp of ``overlap`` samples; a ramp plus its mirror image sums to 1."""
    i = np.arange(overlap, dtype=np.float64)
    return np.sin(0.5 * np.pi * (i + 0.5) / overlap) ** 2


def axis_window(start: int, tile: int, length: int, overlap: int) -> np.ndarray:
    """1-D blending weights of a tile along one axis (flat where it meets the image border)."""
    w = np.ones(tile, np.float64)
    if overlap > 0:
        r = ramp(overlap)
        if start > 0:
            w[:overlap] = r
        if start + tile < length:
            w[tile - overlap:] = np.minimum(w[tile - overlap:], r[::-1])
    return w.astype(np.float32)


def place_on_device(model: nnx.Module, device: Any = None) -> None:
    """Move every array of ``model`` onto one device (inference runs on one device)."""
    device = device or jax.devices()[0]
    nnx.update(model, jax.device_put(nnx.state(model), device))


def tile_probabilities(model: nnx.Module, image: np.ndarray, tiles: TileSettings, tta: bool = False) -> np.ndarray:
    """Class probabilities (H, W, K) of a normalised (H, W, C) image, predicted tile by tile."""
    t = tiles.checked()
    h, w = image.shape[:2]
    th, tw = min(t.tile, _round_up(h)), min(t.tile, _round_up(w))
    ph, pw = max(th - h, 0), max(tw - w, 0)
    if ph or pw:
        mode = "reflect" if min(h, w) > 1 else "edge"
        image = np.pad(image, ((0, ph), (0, pw), (0, 0)), mode=mode)
    big_h, big_w = image.shape[:2]
    overlap_h, overlap_w = min(t.overlap, th // 2), min(t.overlap, tw // 2)
    positions = [
        (y, x)
        for y in tile_starts(big_h, th, th - overlap_h)
        for x in tile_starts(big_w, tw, tw - overlap_w)
    ]
    # Several tiles per call keep both cores busy; one batch size per image means one compile.
    batch = min(TILE_BATCH, len(positions))
    acc: np.ndarray | None = None
    norm = np.zeros((big_h, big_w), np.float32)
    for start in range(0, len(positions), batch):
        chunk = positions[start:start + batch]
        stack = np.stack([image[y:y + th, x:x + tw] for y, x in chunk])
        probs = _tiles(model, stack, batch, tta)
        if acc is None:
            acc = np.zeros((big_h, big_w, probs.shape[-1]), np.float32)
        for (y, x), p in zip(chunk, probs):
            win = axis_window(y, th, big_h, overlap_h)[:, None] * axis_window(x, tw, big_w, overlap_w)[None, :]
            acc[y:y + th, x:x + tw] += p * win[:, :, None]
            norm[y:y + th, x:x + tw] += win
    assert acc is not None
    return (acc / norm[:, :, None])[:h, :w]


def _tiles(model: nnx.Module, tiles: np.ndarray, batch: int, tta: bool) -> np.ndarray:
    """Probabilities of a stack of tiles (padded to ``batch``), averaged over flips when ``tta``."""
    n = len(tiles)
    if n < batch:
        tiles = np.concatenate([tiles, np.zeros((batch - n, *tiles.shape[1:]), tiles.dtype)])
    flips = [(), (2,), (1,), (1, 2)] if tta else [()]
    out = None
    for axes in flips:
        x = np.flip(tiles, axes) if axes else tiles
        p = np.asarray(predict_probabilities(model, np.ascontiguousarray(x)))
        p = np.flip(p, axes) if axes else p
        out = p if out is None else out + p
    return out[:n] / len(flips)


def predict_frame(
    model: nnx.Module,
    frame: np.ndarray,
    info: ModelInfo,
    tiles: TileSettings | None = None,
    tta: bool = False,
    fov: FieldOfView | None = None,
    source: str = "image",
) -> np.ndarray:
    """Class map (H, W) int16 of one raw frame; -1 outside the field of view (x, y, w, h)."""
    channels = frame_channels(frame)
    if channels != info.in_channels:
        raise PredictionError(
            f"{source} has {channels} channel(s) but the model was trained on {info.in_channels}-channel "
            "images; predict on images of the kind it was trained on"
        )
    tiles = (tiles or TileSettings()).checked()
    image = normalise(frame, info.normalisation, info.input_normalisation)
    h, w = image.shape[:2]
    out = np.full((h, w), -1, np.int16)
    if fov is None:
        out[:] = np.argmax(tile_probabilities(model, image, tiles, tta), axis=-1)
        return out
    x0, y0, x1, y1 = _fov_box(fov, h, w, source)
    m = tiles.overlap  # context around the field of view, so its edges see their neighbourhood
    cy0, cx0, cy1, cx1 = max(y0 - m, 0), max(x0 - m, 0), min(y1 + m, h), min(x1 + m, w)
    probs = tile_probabilities(model, image[cy0:cy1, cx0:cx1], tiles, tta)
    out[y0:y1, x0:x1] = np.argmax(probs[y0 - cy0:y1 - cy0, x0 - cx0:x1 - cx0], axis=-1)
    return out


def _fov_box(fov: FieldOfView, h: int, w: int, source: str) -> tuple[int, int, int, int]:
    """Clip an (x, y, width, height) field of view to the image, refusing an empty one."""
    x, y, fw, fh = (int(v) for v in fov)
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + fw, w), min(y + fh, h)
    if x1 <= x0 or y1 <= y0:
        raise PredictionError(f"field of view {fov} lies outside {source} ({w}x{h})")
    return x0, y0, x1, y1


PredictProgress = Callable[[int, int, str], None]  # done, total, current image name


class LabelsExistError(PredictionError):
    """Label files the prediction would replace exist; ``existing`` lists them."""

    def __init__(self, existing: list[Path]) -> None:
        self.existing = list(existing)
        super().__init__(f"{len(existing)} label file(s) already exist, e.g. {existing[0]}; "
                         "force=True overwrites them")


def predict_folder(
    model_dir: str | Path,
    folder: str | Path,
    *,
    tta: bool = False,
    force: bool = False,
    tiles: TileSettings | None = None,
    fov: FieldOfView | None = None,
    include_background: bool = False,
    registry: Any = None,
    builder: Callable[[ModelInfo], nnx.Module] | None = None,
    progress: PredictProgress | None = None,
    stop: threading.Event | None = None,
) -> list[Path]:
    """Label every image (every frame of a stack) of ``folder``; return the label files written."""
    from mia_core.images import ImageReadError, image_shape, list_images

    try:
        images = list_images(folder)
    except ImageReadError as exc:
        raise PredictionError(str(exc)) from exc
    if not images:
        raise PredictionError(f"no images in {folder}")
    model, info = load_model(model_dir, registry, builder)
    place_on_device(model)
    from mia_core.label_clashes import header_frames, label_clashes

    plan: list[tuple[Path, int]] = []
    clashes = label_clashes(images, header_frames)
    for path in images:
        if path in clashes:  # writing would overwrite the other image's labels
            logging.getLogger("mia").warning("%s: skipped, %s", path.name, clashes[path])
            continue
        try:
            plan.append((path, int(image_shape(path)[0])))
        except ImageReadError as exc:
            raise PredictionError(str(exc)) from exc
    if not force:
        existing = [p for path, n in plan for p in _label_files(path, n) if p.exists()]
        if existing:
            raise LabelsExistError(existing)
    written: list[Path] = []
    for i, (path, _) in enumerate(plan):
        if stop is not None and stop.is_set():
            break
        if progress:
            progress(i, len(plan), path.name)
        written += predict_image_file(model, info, path, tta=tta, tiles=tiles, fov=fov,
                                      include_background=include_background)
    if progress:
        progress(len(plan), len(plan), "")
    return written


def _label_files(path: Path, frames: int) -> list[Path]:
    """Label files that predictions for this image would replace or conflict with."""
    from mia_core.label_store import label_path

    files = [label_path(path)]
    if frames > 1:
        files += [label_path(path, f) for f in range(frames)]
    return files


def predict_image_file(
    model: nnx.Module,
    info: ModelInfo,
    path: Path,
    *,
    tta: bool = False,
    tiles: TileSettings | None = None,
    fov: FieldOfView | None = None,
    include_background: bool = False,
) -> list[Path]:
    """Predict one image file and save its labels (per frame for a stack); return files written."""
    from mia_core.images import ImageReadError, read_image
    from mia_core.label_store import label_path, save_labels
    from mia_core.raster import labels_from_class_map

    try:
        pixels = read_image(path)
    except ImageReadError as exc:
        raise PredictionError(str(exc)) from exc
    ignore = (-1,) if include_background else (-1, 0)
    written = []
    for f in range(pixels.shape[0]):
        frame = f if pixels.shape[0] > 1 else None
        name = path.name if frame is None else f"{path.name} (frame {f})"
        class_map = predict_frame(model, pixels[f], info, tiles, tta, fov, source=name)
        target = label_path(path, frame)
        save_labels(target, labels_from_class_map(class_map, ignore=ignore))
        written.append(target)
    return written
