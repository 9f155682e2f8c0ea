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

A field of view too large for the memory HED needs is handled as MIA does: when the forward pass
runs out of memory, it is tried again on the input shrunk to 0.9 of its width and height, again
and again until it fits (below 100 pixels it gives up), and the edge map is scaled back to the
field of view.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

import numpy as np

from mia_core.hooks import hookimpl

DEFAULT_WEIGHTS = "hed"
SHRINK = 0.9  # MIA's factor per retry
MIN_PIXELS = 100  # MIA's floor: below it the retries stop


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
        model = self._model(hints.get("weights", DEFAULT_WEIGHTS))
        return shrinking_forward(lambda x: hed.edge_map(model, x), prepared)

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


def out_of_memory(exc: BaseException) -> bool:
    """True for the errors a forward pass raises when its input does not fit in memory."""
    text = str(exc)
    return isinstance(exc, MemoryError) or "RESOURCE_EXHAUSTED" in text or "out of memory" in text.lower()


def shrinking_forward(forward: Callable[[np.ndarray], np.ndarray], prepared: np.ndarray) -> np.ndarray:
    """``forward(prepared)``; when it runs out of memory, again on the input shrunk by
    :data:`SHRINK` until it fits (MIA's retry), the edge map scaled back to the input's size."""
    import cv2

    h, w = prepared.shape[:2]
    x = prepared
    while True:
        try:
            edges = np.asarray(forward(x), np.float32)
            break
        except Exception as exc:  # noqa: BLE001 - only memory errors are retried, the rest re-raised
            if not out_of_memory(exc):
                raise
            ch, cw = x.shape[:2]
            if ch * cw < MIN_PIXELS:
                raise MemoryError(f"auto-seg ran out of memory even on a {cw}x{ch} copy of the {w}x{h} field of view; "
                                  "close other programs or zoom in") from exc
            x = cv2.resize(x, (max(int(cw * SHRINK), 1), max(int(ch * SHRINK), 1)), interpolation=cv2.INTER_AREA)
    if edges.shape != (h, w):
        edges = cv2.resize(edges, (w, h), interpolation=cv2.INTER_LINEAR)
    return edges


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
