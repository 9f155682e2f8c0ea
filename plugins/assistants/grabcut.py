"""GrabCut (Rother et al. 2004) as the Smart-mode assistant and the DEXTR tool's fallback.

Hints (boolean masks of the crop): ``foreground`` / ``background`` (sure), ``probable_foreground``
(the rest is probable background), optional ``levels`` (display levels), ``frozen`` (evaluate the
session's colour models unchanged), ``iterations`` (default 1). With a session, the 1x65 colour
models are kept between calls so later strokes refine instead of restarting, as MIA does.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from mia_core.api import AssistantError, AssistantSession
from mia_core.assist import display_uint8
from mia_core.hooks import hookimpl

#: GrabCut runs on at most this many pixels; larger views are downscaled and the mask scaled back.
MAX_PIXELS = 500_000


def work_scale(height: int, width: int, max_pixels: int = MAX_PIXELS) -> float:
    """The factor (<= 1) that brings a view to at most ``max_pixels`` pixels."""
    n = height * width
    return 1.0 if n <= max_pixels else float(np.sqrt(max_pixels / n)) * 0.999


def initial_mask(hints: dict[str, Any], shape: tuple[int, int]) -> np.ndarray:
    """The GrabCut label mask: probable background, probable foreground, then the sure hints."""
    mask = np.full(shape, cv2.GC_PR_BGD, np.uint8)
    for key, value in (("probable_foreground", cv2.GC_PR_FGD), ("background", cv2.GC_BGD),
                       ("foreground", cv2.GC_FGD)):
        m = hints.get(key)
        if m is not None:
            m = np.asarray(m, dtype=bool)
            if m.shape != tuple(shape):
                raise AssistantError(f"hint {key!r} has shape {m.shape}, the image {tuple(shape)}")
            mask[m] = value
    return mask


class GrabCutAssistant:
    """Colour-model segmentation from sure/probable hints (cv2.grabCut with a mask)."""

    name = "grabcut"
    label = "Smart mode (GrabCut)"

    def predict(self, image: np.ndarray, hints: dict[str, Any], session: AssistantSession | None = None) -> np.ndarray:
        """Segment the crop; returns a bool mask of its height and width."""
        shape = tuple(np.asarray(image).shape[:2])
        mask = initial_mask(hints, shape)
        frozen = bool(hints.get("frozen")) and session is not None and "models" in session.state
        if not frozen:
            fg = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
            if not fg.any():
                raise AssistantError("GrabCut needs some foreground: mark the object first")
            if fg.all():
                raise AssistantError("GrabCut needs some background: the whole view is marked as the object")
        picture = display_uint8(image, hints.get("levels"))
        scale = work_scale(*shape)
        if scale < 1.0:
            size = (max(1, int(shape[1] * scale)), max(1, int(shape[0] * scale)))
            small = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
            work = cv2.resize(mask, size, interpolation=cv2.INTER_NEAREST_EXACT)  # pixel centres aligned, like INTER_AREA
            # keep thin sure strokes that nearest-neighbour sampling would drop
            for value in (cv2.GC_BGD, cv2.GC_FGD):
                hit = cv2.resize((mask == value).astype(np.uint8), size, interpolation=cv2.INTER_AREA) > 0
                work[hit] = value
        else:
            small, work = picture, mask.copy()
        if session is not None and "models" in session.state:
            bgd, fgd = (np.array(m, dtype=np.float64) for m in session.state["models"])
        else:
            bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
        iterations = int(hints.get("iterations", 1))
        mode = cv2.GC_EVAL_FREEZE_MODEL if frozen else cv2.GC_INIT_WITH_MASK
        try:
            cv2.grabCut(small, work, None, bgd, fgd, iterations, mode)
        except cv2.error as exc:
            raise AssistantError(f"GrabCut could not separate the hints: {exc.err or exc}") from exc
        if session is not None and not frozen:
            session.state["models"] = (bgd.copy(), fgd.copy())
        out = ((work == cv2.GC_FGD) | (work == cv2.GC_PR_FGD)).astype(np.uint8)
        if scale < 1.0:
            out = cv2.resize(out * 255, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR) > 127
            out = out.astype(np.uint8)
        result = out.astype(bool)
        # the user's sure hints always win at full resolution
        result[mask == cv2.GC_FGD] = True
        result[mask == cv2.GC_BGD] = False
        return result


@hookimpl
def mia_assistants() -> list[GrabCutAssistant]:
    """Register GrabCut."""
    return [GrabCutAssistant()]
