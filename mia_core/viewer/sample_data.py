"""A small sample folder, so that a new user who starts ``mia`` with no folder sees images at once."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np

from mia_core.viewer.settings import data_dir

SAMPLE_FOLDER = "sample"
STACK_NAME = "blobs_stack.tif"
#: Images bundled with scikit-image that look like microscopy.
BUNDLED = ("cell.png", "coins.png")


def sample_folder(root: Path | None = None) -> Path:
    """Create (once; missing files are added again) and return the sample folder."""
    folder = (root or data_dir()) / SAMPLE_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    source = _skimage_data_dir()
    for name in BUNDLED:
        target = folder / name
        if target.exists():
            continue
        if source is not None and (source / name).is_file():
            shutil.copyfile(source / name, target)
    stack = folder / STACK_NAME
    if not stack.exists():
        import tifffile

        tifffile.imwrite(stack, blob_stack(), photometric="minisblack")
    return folder


def _skimage_data_dir() -> Path | None:
    """scikit-image's bundled data folder, found without importing scikit-image."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def blob_stack(frames: int = 3, size: int = 160, seed: int = 0) -> np.ndarray:
    """A 16-bit stack of bright round cells drifting between frames, with noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    centres = rng.uniform(20, size - 20, size=(7, 2))
    radii = rng.uniform(7, 14, size=7)
    drift = rng.normal(0, 3, size=(7, 2))
    out = np.empty((frames, size, size), np.uint16)
    for f in range(frames):
        img = np.full((size, size), 2000.0, np.float32)
        for (cy, cx), r, (dy, dx) in zip(centres, radii, drift):
            d2 = (yy - cy - f * dy) ** 2 + (xx - cx - f * dx) ** 2
            img += 30000.0 / (1.0 + np.exp((np.sqrt(d2) - r) / 1.5))
        img += rng.normal(0, 800, img.shape)
        out[f] = np.clip(img, 0, 65535).astype(np.uint16)
    return out
