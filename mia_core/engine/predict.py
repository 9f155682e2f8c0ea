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
from typing import Any, Callable, Iterator

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


class ChannelMismatch(PredictionError):
    """The image has another number of channels than the model was trained on."""


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


TileProgress = Callable[[int, int], None]  # tiles done, tiles in all


def tile_probabilities(model: nnx.Module, image: np.ndarray, tiles: TileSettings, tta: bool = False,
                       progress: TileProgress | None = None) -> np.ndarray:
    """Class probabilities (H, W, K) of a normalised (H, W, C) image, predicted tile by tile."""
    bands = list(blended_rows(model, image, tiles, tta, progress=progress))
    return np.concatenate([b for _, b in bands])


def blended_rows(
    model: nnx.Module,
    image: np.ndarray,
    tiles: TileSettings,
    tta: bool = False,
    prepare: Callable[[np.ndarray], np.ndarray] | None = None,
    progress: TileProgress | None = None,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (first row, probabilities (rows, W, K) float32) of finished bands of rows, top to bottom.

    Only one or two rows of tiles are held at a time, and ``prepare`` (e.g. normalisation) runs per
    tile, so memory follows the image width rather than its area.
    """
    t = tiles.checked()
    prepare = prepare or (lambda tile: tile)
    h, w = image.shape[:2]
    th, tw = min(t.tile, _round_up(h)), min(t.tile, _round_up(w))
    big_h, big_w = max(h, th), max(w, tw)
    overlap_h, overlap_w = min(t.overlap, th // 2), min(t.overlap, tw // 2)
    ys = tile_starts(big_h, th, th - overlap_h)
    xs = tile_starts(big_w, tw, tw - overlap_w)
    wy = [axis_window(y, th, big_h, overlap_h) for y in ys]
    wx = [axis_window(x, tw, big_w, overlap_w) for x in xs]
    # The tile grid is a product of row and column starts, so the summed window is too.
    norm_y, norm_x = np.zeros(big_h, np.float32), np.zeros(big_w, np.float32)
    for y, win in zip(ys, wy):
        norm_y[y:y + th] += win
    for x, win in zip(xs, wx):
        norm_x[x:x + tw] += win
    positions = [(r, c) for r in range(len(ys)) for c in range(len(xs))]
    batch = min(TILE_BATCH, len(positions))  # one batch size per image: one compile
    bands: dict[int, np.ndarray] = {}  # row of tiles -> its accumulated (th, big_w, K) probabilities
    carry: np.ndarray | None = None  # rows below the last finished band that it also covered
    next_row = 0
    for start in range(0, len(positions), batch):
        chunk = positions[start:start + batch]
        stack = np.stack([_tile(image, ys[r], xs[c], th, tw, prepare) for r, c in chunk])
        probs = _tiles(model, stack, batch, tta)
        for (r, c), p in zip(chunk, probs):
            if r not in bands:
                bands[r] = np.zeros((th, big_w, p.shape[-1]), np.float32)
            bands[r][:, xs[c]:xs[c] + tw] += p * (wy[r][:, None] * wx[c][None, :])[:, :, None]
        if progress:
            progress(start + len(chunk), len(positions))
        last_done = chunk[-1][0] if chunk[-1][1] == len(xs) - 1 else chunk[-1][0] - 1
        while next_row <= last_done:
            acc = bands.pop(next_row)
            if carry is not None:
                acc[:len(carry)] += carry
            y0 = ys[next_row]
            y1 = ys[next_row + 1] if next_row + 1 < len(ys) else big_h
            carry = acc[y1 - y0:].copy() if next_row + 1 < len(ys) else None  # the overlap only
            lo, hi = y0, min(y1, h)
            if hi > lo:
                done = acc[:hi - lo, :w]
                done /= norm_y[lo:hi, None, None] * norm_x[None, :w, None]
                yield lo, done
            del acc
            next_row += 1


def _tile(image: np.ndarray, y: int, x: int, th: int, tw: int, prepare: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """One prepared tile, padded by reflection where the image is smaller than the tile."""
    tile = prepare(image[y:y + th, x:x + tw])
    ph, pw = th - tile.shape[0], tw - tile.shape[1]
    if ph or pw:
        mode = "reflect" if min(tile.shape[:2]) > 1 else "edge"
        tile = np.pad(tile, ((0, ph), (0, pw), (0, 0)), mode=mode)
    return tile


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
    progress: TileProgress | None = None,
) -> np.ndarray:
    """Class map (H, W) int16 of one raw frame; -1 outside the field of view (x, y, w, h)."""
    channels = frame_channels(frame)
    if channels != info.in_channels:
        raise ChannelMismatch(
            f"{source} has {channels} channel(s) but the model was trained on {info.in_channels}-channel "
            "images; predict on images of the kind it was trained on"
        )
    tiles = (tiles or TileSettings()).checked()
    raw = frame[:, :, None] if frame.ndim == 2 else frame
    h, w = raw.shape[:2]
    prepare: Callable[[np.ndarray], np.ndarray] | None
    if info.normalisation == "encoder":
        # a pretrained encoder's input stretch depends on the whole frame's range: prepared at once
        raw = normalise(frame, "encoder", info.input_normalisation)
        prepare = None
    else:
        offset, scale = frame_statistics(raw, info.normalisation)

        def prepare(tile: np.ndarray) -> np.ndarray:
            out = (tile.astype(np.float32) - offset) / scale
            if not np.issubdtype(tile.dtype, np.integer):
                out[~np.isfinite(out)] = 0.0
            return out

    out = np.full((h, w), -1, np.int16)
    if fov is None:
        x0, y0, x1, y1 = 0, 0, w, h
        cy0, cx0, cy1, cx1 = 0, 0, h, w
    else:
        x0, y0, x1, y1 = _fov_box(fov, h, w, source)
        m = tiles.overlap  # context around the field of view, so its edges see their neighbourhood
        cy0, cx0, cy1, cx1 = max(y0 - m, 0), max(x0 - m, 0), min(y1 + m, h), min(x1 + m, w)
    for row, probs in blended_rows(model, raw[cy0:cy1, cx0:cx1], tiles, tta, prepare, progress):
        lo, hi = max(cy0 + row, y0), min(cy0 + row + len(probs), y1)
        if hi > lo:
            band = probs[lo - cy0 - row:hi - cy0 - row, x0 - cx0:x1 - cx0]
            out[lo:hi, x0:x1] = np.argmax(band, axis=-1)
    return out


def frame_statistics(frame: np.ndarray, method: str, rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The (offset, scale) of :func:`normalise` for an (H, W, C) frame, in bands of rows (bounded memory)."""
    if method not in ("per-image", "min-max"):
        raise ValueError(f"unknown normalisation {method!r}")
    channels = frame.shape[-1]
    rows = rows or max(1, (1 << 19) // max(1, frame[:1].size))  # half a million values per band
    count = np.zeros(channels)
    mean = np.zeros(channels)
    m2 = np.zeros(channels)
    lo, hi = np.full(channels, np.inf), np.full(channels, -np.inf)
    for r in range(0, frame.shape[0], rows):
        band = frame[r:r + rows].reshape(-1, channels)
        for c in range(channels):
            v = band[:, c].astype(np.float64)
            if not np.issubdtype(band.dtype, np.integer):
                v = v[np.isfinite(v)]
            if not v.size:
                continue
            n, m = v.size, float(v.mean())
            # Chan et al.: merge this band's mean and squared deviations into the running ones.
            delta, total = m - mean[c], count[c] + n
            m2[c] += float(((v - m) ** 2).sum()) + delta * delta * count[c] * n / total
            mean[c] += delta * n / total
            count[c] = total
            lo[c], hi[c] = min(lo[c], float(v.min())), max(hi[c], float(v.max()))
    offset = np.zeros((1, 1, channels), np.float32)
    scale = np.ones((1, 1, channels), np.float32)
    for c in range(channels):
        if not count[c]:
            continue  # nothing finite: every pixel becomes 0
        if method == "per-image":
            offset[..., c], scale[..., c] = mean[c], max(np.sqrt(m2[c] / count[c]), 1e-6)
        else:
            offset[..., c], scale[..., c] = lo[c], max(hi[c] - lo[c], 1e-6)
    return offset, scale


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


@dataclass
class FolderPrediction:
    """What predicting a folder did: files written, frames where nothing was found, failures."""

    written: list[Path]
    empty: list[str]  # frames predicted as all background: no label file (an old one is removed)
    failed: list[tuple[str, str]]  # (image or frame name, reason): skipped, the others went on

    @property
    def predicted(self) -> int:
        """Frames predicted (with or without objects)."""
        return len(self.written) + len(self.empty)


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
    tile_progress: Callable[[str, int, int], None] | None = None,
) -> FolderPrediction:
    """Label every image (every frame of a stack) of ``folder``; an image that cannot be predicted
    is recorded in ``failed`` and the others go on."""
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

    result = FolderPrediction([], [], [])
    plan: list[tuple[Path, int]] = []
    clashes = label_clashes(images, header_frames)
    for path in images:
        if path in clashes:  # writing would overwrite the other image's labels
            logging.getLogger("mia").warning("%s: skipped, %s", path.name, clashes[path])
            continue
        try:
            plan.append((path, int(image_shape(path)[0])))
        except ImageReadError as exc:
            result.failed.append((path.name, exc.reason))
    if not force:
        existing = [p for path, n in plan for p in _label_files(path, n) if p.exists()]
        if existing:
            raise LabelsExistError(existing)
    for i, (path, _) in enumerate(plan):
        if stop is not None and stop.is_set():
            break
        if progress:
            progress(i, len(plan), path.name)
        on_tile = None if tile_progress is None else (lambda d, n, name=path.name: tile_progress(name, d, n))
        predict_image_file(model, info, path, tta=tta, tiles=tiles, fov=fov,
                           include_background=include_background, result=result, tile_progress=on_tile)
    if progress:
        progress(len(plan), len(plan), "")
    return result


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
    result: FolderPrediction | None = None,
    tile_progress: TileProgress | None = None,
) -> FolderPrediction:
    """Predict one image file and save its labels (per frame for a stack) into ``result``."""
    from mia_core.images import ImageReadError, read_image
    from mia_core.label_store import LabelStoreError, label_path, save_labels
    from mia_core.raster import labels_from_class_map

    result = result if result is not None else FolderPrediction([], [], [])
    try:
        pixels = read_image(path)
    except ImageReadError as exc:
        result.failed.append((path.name, exc.reason))
        return result
    ignore = (-1,) if include_background else (-1, 0)
    for f in range(pixels.shape[0]):
        frame = f if pixels.shape[0] > 1 else None
        name = path.name if frame is None else f"{path.name} (frame {f})"
        try:
            class_map = predict_frame(model, pixels[f], info, tiles, tta, fov, source=name, progress=tile_progress)
            labels = labels_from_class_map(class_map, ignore=ignore)
            target = label_path(path, frame)
            save_labels(target, labels)
        except (PredictionError, LabelStoreError) as exc:
            result.failed.append((name, str(exc)))
            if isinstance(exc, ChannelMismatch):
                break  # every frame of a stack has the channels of the first
            continue
        if labels.is_empty:
            result.empty.append(name)
        else:
            result.written.append(target)
    return result
