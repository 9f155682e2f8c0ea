"""The core side of labelling assistants: sessions per image and class, the field of view, and
Smart mode (strokes of the drawing tools recorded as hints for an assistant instead of edits).

GUI-free, so the app and headless code share it; the app only runs :meth:`SmartMode.job` in a
worker and applies the mask it returns with :meth:`SmartMode.apply`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Hashable

import numpy as np

from mia_core import raster
from mia_core.api import AssistantError, AssistantSession
from mia_core.document import LabelDocument

Box = tuple[int, int, int, int]


def clip_view(view: Box | None, shape: tuple[int, int]) -> Box:
    """The field of view (x0, y0, x1, y1) clipped to an image of ``shape``; None is the whole image."""
    h, w = int(shape[0]), int(shape[1])
    if view is None:
        return 0, 0, w, h
    x0, y0, x1, y1 = (int(round(v)) for v in view)
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x0 >= x1 or y0 >= y1:
        raise AssistantError("the field of view does not show any of the image: zoom out or press Fit")
    return x0, y0, x1, y1


class AssistantSessions:
    """Creates one :class:`AssistantSession` per key (image, frame, class) and drops the old one
    when the key changes, so state never leaks from one image or class to another."""

    def __init__(self) -> None:
        self._session: AssistantSession | None = None

    def get(self, key: tuple[Hashable, ...]) -> AssistantSession:
        """The session for ``key``: the current one if the key is the same, else a fresh one."""
        if self._session is None or self._session.key != tuple(key):
            self._session = AssistantSession(key=tuple(key))
        return self._session

    def reset(self) -> None:
        """Forget hints and models (the user reset, or Smart mode turned off)."""
        self._session = None

    @property
    def current(self) -> AssistantSession | None:
        """The live session, if any."""
        return self._session


@dataclass
class SmartRequest:
    """One GrabCut run Smart mode asks for: everything the worker needs, copied off the GUI state."""

    image: np.ndarray
    hints: dict[str, Any]
    box: Box
    class_id: int
    session: AssistantSession


class HintRecorder:
    """Stands in for the document while Smart mode is on: the drawing tools' edits become hints.

    add polygons and expand strokes mark sure foreground; delete polygons and erase strokes sure
    background; slices are ignored. Everything else (undo, labels, clicks of other tools) goes to
    the real document. ``on_stroke`` is called after every recorded stroke.
    """

    def __init__(self, document: LabelDocument, shape: tuple[int, int], session: AssistantSession,
                 on_stroke: Callable[[], None]) -> None:
        self._document = document
        self._shape = (int(shape[0]), int(shape[1]))
        self._session = session
        self._on_stroke = on_stroke

    def __getattr__(self, name: str) -> Any:
        return getattr(self._document, name)

    def _hint(self, which: str, mask: np.ndarray) -> bool:
        if not mask.any():
            return False
        state = self._session.state
        fg = state.setdefault("foreground", np.zeros(self._shape, dtype=bool))
        bg = state.setdefault("background", np.zeros(self._shape, dtype=bool))
        if which == "foreground":
            fg |= mask
            bg &= ~mask
        else:
            bg |= mask
            fg &= ~mask
        state["frozen"] = False  # a new stroke: the colour models learn again
        self._on_stroke()
        return True

    def add_polygon(self, points: Any, class_id: int) -> bool:
        """An add stroke or polygon: sure foreground."""
        return self._hint("foreground", raster.fill_polygon_mask(raster.as_points(points), self._shape))

    def subtract_polygon(self, points: Any) -> bool:
        """A delete stroke or polygon: sure background."""
        return self._hint("background", raster.fill_polygon_mask(raster.as_points(points), self._shape))

    def brush(self, path: Any, radius: float, class_id: int, erase: bool = False) -> bool:
        """An expand stroke is sure foreground, an erase stroke sure background."""
        mask = raster.brush_mask(raster.as_points(path), radius, self._shape)
        return self._hint("background" if erase else "foreground", mask)

    def slice(self, polyline: Any, width: int = 2) -> bool:
        """Slices are no hint."""
        return False


class SmartMode:
    """Smart mode for one document at a time: sessions, hints and the GrabCut request per stroke."""

    #: The drawing tools whose strokes become hints.
    TOOLS = ("draw", "poly", "expand")

    def __init__(self, assistant: Any) -> None:
        self.assistant = assistant
        self.sessions = AssistantSessions()
        self._view: Box | None = None

    def session(self, key: tuple[Hashable, ...]) -> AssistantSession:
        """The session of the image/frame/class in ``key`` (a new key drops hints and models)."""
        return self.sessions.get(key)

    def recorder(self, document: LabelDocument, shape: tuple[int, int], key: tuple[Hashable, ...],
                 on_stroke: Callable[[], None]) -> HintRecorder:
        """The document stand-in the drawing tools edit while Smart mode is on."""
        return HintRecorder(document, shape, self.session(key), on_stroke)

    def request(self, image: np.ndarray, labels: Any, class_id: int, view: Box | None,
                key: tuple[Hashable, ...], levels: tuple[float, float] | None = None,
                frozen: bool = False) -> SmartRequest:
        """Crop image and hints to the field of view; the class's contours there are probable foreground.

        ``frozen`` asks for the kept colour models to be evaluated unchanged (the view moved, no
        new stroke yet). Raises AssistantError when there is nothing to go on.
        """
        session = self.session(key)
        shape = image.shape[:2]
        box = clip_view(view, shape)
        x0, y0, x1, y1 = box
        state = session.state
        fg = state.get("foreground")
        bg = state.get("background")
        probable = labels.to_class_map(shape)[y0:y1, x0:x1] == class_id
        sure_fg = np.zeros(probable.shape, bool) if fg is None else fg[y0:y1, x0:x1].copy()
        sure_bg = np.zeros(probable.shape, bool) if bg is None else bg[y0:y1, x0:x1].copy()
        if not (sure_fg.any() or sure_bg.any() or (frozen and probable.any())):
            raise AssistantError(
                "Smart mode: no hints in the field of view; draw over the object with the add or "
                "expand tool (and over background with delete or erase)")
        hints: dict[str, Any] = {
            "foreground": sure_fg,
            "background": sure_bg,
            "probable_foreground": probable,
            "frozen": bool(frozen and "models" in state),
            "levels": levels,
        }
        return SmartRequest(np.ascontiguousarray(image[y0:y1, x0:x1]), hints, box, class_id, session)

    def run(self, request: SmartRequest) -> np.ndarray:
        """The worker's part: GrabCut on the request (no GUI, no document)."""
        return self.assistant.predict(request.image, request.hints, session=request.session)

    @staticmethod
    def apply(document: LabelDocument, request: SmartRequest, mask: np.ndarray) -> bool:
        """Make the mask the class inside the field of view: one undo step, outside untouched."""
        return document.replace_class_in_box(request.box, mask, request.class_id)


def display_uint8(image: np.ndarray, levels: tuple[float, float] | None = None) -> np.ndarray:
    """An 8-bit (H, W, 3) picture of ``image`` as the user sees it (display levels; default the
    0.5-99.5 percentiles), so 12- and 16-bit images are not left nearly black.

    Raises AssistantError when nothing is left to separate (a constant image, or one bright pixel
    in a dark field), so an assistant never guesses on a blank picture.
    """
    img = np.asarray(image)
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[..., 0]
    if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (3, 4)):
        raise AssistantError(f"expected a grey or RGB image, got shape {img.shape}")
    if img.ndim == 3:
        img = img[..., :3]
    if img.size == 0:
        raise AssistantError("the field of view is empty")
    data = img.astype(np.float32)
    if levels is None:
        lo, hi = (float(v) for v in np.percentile(data, (0.5, 99.5)))
    else:
        lo, hi = float(levels[0]), float(levels[1])
    if not np.isfinite(lo) or not np.isfinite(hi) or hi <= lo:
        raise AssistantError(
            "the field of view has no contrast (all pixels nearly equal at these display levels): "
            "nothing to separate; move to a region with visible structure or adjust the levels")
    out = np.clip((data - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)
    if out.ndim == 2:
        out = np.repeat(out[..., None], 3, axis=2)
    if int(out.max()) == int(out.min()):
        raise AssistantError("the field of view is uniform at these display levels: nothing to separate")
    return np.ascontiguousarray(out)


def points_hints(points: np.ndarray, shape: tuple[int, int], radius: int = 1, margin: int = 2) -> dict[str, Any]:
    """GrabCut hints from extreme points (DEXTR's fallback): outside their bounding box (plus
    ``margin``) sure background, inside probable foreground, small discs at the points sure foreground."""
    h, w = int(shape[0]), int(shape[1])
    pts = np.asarray(points, dtype=np.float64)
    x0 = max(int(np.floor(pts[:, 0].min())) - margin, 0)
    y0 = max(int(np.floor(pts[:, 1].min())) - margin, 0)
    x1 = min(int(np.ceil(pts[:, 0].max())) + margin + 1, w)
    y1 = min(int(np.ceil(pts[:, 1].max())) + margin + 1, h)
    background = np.ones((h, w), bool)
    background[y0:y1, x0:x1] = False
    probable = ~background
    foreground = np.zeros((h, w), bool)
    for p in raster.as_points(pts):
        foreground |= raster.brush_mask(p[None], radius, (h, w))
    return {"foreground": foreground, "background": background & ~foreground,
            "probable_foreground": probable, "iterations": 5}


def labelled_pictures(folders: list[Any], report: Callable[[int, int], None] | None = None
                      ) -> tuple[list[tuple[np.ndarray, Any]], list[str]]:
    """Every labelled frame of the images in ``folders``: (8-bit RGB picture, LabelSet), and the
    files that were skipped with why (unreadable image or label file)."""
    from pathlib import Path

    from mia_core.images import ImageReadError, list_images, read_image, to_display
    from mia_core.label_store import LABEL_FOLDER as LABEL_GLOB, LabelStoreError, label_path, load_labels

    out: list[tuple[np.ndarray, Any]] = []
    skipped: list[str] = []
    paths = [p for f in folders for p in list_images(Path(f))]
    for i, path in enumerate(paths):
        if report is not None:
            report(i, len(paths))
        per_frame = []
        shared = label_path(path)
        if not shared.is_file() and not any(path.parent.glob(f"{LABEL_GLOB}/{path.stem}_frame*.npz")):
            continue  # no labels: do not read the image at all
        try:
            data = read_image(path)
            for frame in range(data.shape[0]):
                own = label_path(path, frame) if data.shape[0] > 1 else shared
                lp = own if own.is_file() else shared
                labels = load_labels(lp) if lp.is_file() else None
                if labels is None or labels.is_empty:
                    continue
                picture = to_display(data[frame])
                if picture.ndim == 2:
                    picture = np.repeat(picture[..., None], 3, axis=2)
                per_frame.append((np.ascontiguousarray(picture), labels.with_shape(data.shape[1:3])))
        except (ImageReadError, LabelStoreError, OSError, ValueError) as exc:
            skipped.append(f"{path}: {exc}")
            continue
        out.extend(per_frame)
    return out, skipped
