"""Auto-segmentation with HED (Xie & Tu 2015): edge map -> threshold -> objects of the active class.

GUI-free: ``predict(image, hints)`` takes the field-of-view crop and returns a boolean mask; the
app turns it into contours of the active class inside the field of view.  Hints:

- ``levels`` (black, white): the display levels the user sees, used to map 16-bit and float images
  to 8 bits (8-bit images are used as they are when absent);
- ``threshold``: edge probability in (0, 1) above which a pixel is an edge; None (default) uses
  Otsu's threshold of the edge map;
- ``inner_contours``: when False (default) every closed edge becomes a filled object; when True
  an edge closed inside another object's edge cuts a hole (even-odd nesting);
- ``weights``: the cached weights name (default ``hed``, fetched with ``mia weights fetch hed``).

Closed edges are found on the thinned edge mask (its skeleton), so an object's outline runs
along the middle of the edge band, where the boundary is.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from mia_core.hooks import hookimpl

DEFAULT_WEIGHTS = "hed"


class AutoSegAssistant:
    """HED auto-segmentation of the field of view (weights loaded once per process)."""

    name = "autoseg"
    label = "Auto-seg"

    def __init__(self) -> None:
        self._models: dict[tuple[str, float], Any] = {}
        self._lock = threading.Lock()

    def edge_map(self, image: np.ndarray, hints: dict[str, Any] | None = None) -> np.ndarray:
        """HED's fused edge probabilities (H, W) float32 in [0, 1] for the crop."""
        from mia_core.engine import hed

        hints = hints or {}
        image = np.asarray(image)
        if image.ndim < 2 or min(image.shape[:2]) < 2:
            raise ValueError(f"auto-seg needs an image of at least 2x2 pixels, got shape {image.shape}")
        prepared = hed.hed_input(image, hints.get("levels"))
        if not np.ptp(prepared.reshape(-1, 3), axis=0).any():
            raise ValueError("the field of view is uniform (constant intensity): there are no edges to find")
        return hed.edge_map(self._model(hints.get("weights", DEFAULT_WEIGHTS)), prepared)

    def predict(self, image: np.ndarray, hints: dict[str, Any], session: Any = None) -> np.ndarray:
        """Boolean mask (H, W) of the objects bounded by HED's closed edges."""
        edges = self.edge_map(image, hints)
        return objects_from_edges(edges, hints.get("threshold"), bool(hints.get("inner_contours", False)))

    def _model(self, weights: str) -> Any:
        """The HED network of the cached weights (converted once, kept while the file is unchanged)."""
        from mia_core import weights as weights_store
        from mia_core.engine import hed

        path = weights_store.weights_path(weights)
        stamp = path.stat().st_mtime if path.is_file() else -1.0
        with self._lock:
            key = (weights, stamp)
            if key not in self._models:
                arrays, _meta = weights_store.load(weights)
                if arrays.get("format") != "hed-h5":
                    raise weights_store.WeightsError(f"weights {weights!r} are not HED weights")
                flat = {k.replace(".", "/"): np.asarray(v) for k, v in arrays["arrays"].items()}
                self._models = {key: hed.hed_from_arrays(flat, tuple(arrays["widths"]), source=str(path))}
            return self._models[key]


def edge_threshold(edges: np.ndarray, threshold: float | None = None) -> float:
    """The edge threshold: the given one, else Otsu's on the edge map."""
    if threshold is not None:
        t = float(threshold)
        if not 0.0 < t < 1.0:
            raise ValueError(f"the edge threshold must be between 0 and 1, got {threshold}")
        return t
    from skimage.filters import threshold_otsu

    if float(np.ptp(edges)) == 0.0:
        return 0.5
    return float(threshold_otsu(edges))


def objects_from_edges(edges: np.ndarray, threshold: float | None = None, inner_contours: bool = False) -> np.ndarray:
    """Boolean mask of the regions closed edges enclose (see the module docstring)."""
    from scipy import ndimage as ndi
    from skimage.morphology import skeletonize

    skeleton = skeletonize(edges >= edge_threshold(edges, threshold))
    labels, count = ndi.label(skeleton, structure=np.ones((3, 3), bool))
    depth = np.zeros(edges.shape, np.int32)
    for index, box in enumerate(ndi.find_objects(labels), start=1):
        if box is None:
            continue
        grown = tuple(slice(max(s.start - 1, 0), s.stop + 1) for s in box)
        curve = labels[grown] == index
        filled = ndi.binary_fill_holes(curve)
        if filled.sum() > curve.sum():  # a closed curve: it encloses something
            depth[grown] += filled
    return depth % 2 == 1 if inner_contours else depth > 0


@hookimpl
def mia_assistants() -> list[Any]:
    """The HED auto-segmentation assistant."""
    return [AutoSegAssistant()]
