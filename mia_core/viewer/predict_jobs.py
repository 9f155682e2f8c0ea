"""What the app's prediction workers do: load a model, predict a frame or a folder (no Qt here).

The engine (and so JAX) is imported inside the jobs, on the worker thread, the first time a model is
loaded: the app starts without it. Jobs only compute; the GUI thread writes their results, so
predictions of an open image go through its document and can be undone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from mia_core.labels import LabelSet
from mia_core.raster import labels_from_class_map

Report = Callable[[int, int], None]
Emit = Callable[[object], None]
Box = tuple[int, int, int, int]  # x0, y0, x1, y1 (x1, y1 exclusive)

#: Predicted background (class 0) is not written as contours: unlabelled pixels are background.
IGNORED_CLASSES = (-1, 0)


@dataclass(frozen=True)
class LoadedModel:
    """A trained network ready to predict, with the settings saved beside it."""

    folder: Path
    model: Any  # flax nnx.Module in eval mode, on one device
    info: Any  # mia_core.engine.checkpoint.ModelInfo
    registry: Any = None  # the plugins whose postprocessors apply the model's postprocessing

    @property
    def postprocessing(self) -> dict[int, Any]:
        """The per-class postprocessing its training objects imply, as mia predict applies by default
        (none without a registry holding the postprocessors, or for a model saved before it was measured)."""
        from mia_core.object_scale import model_postprocessing
        from mia_core.results import ExportError, check_postprocessors

        if self.registry is None:
            return {}
        plan = model_postprocessing(self.info)
        try:
            check_postprocessors(self.registry, plan)
        except ExportError:  # a postprocessor plugin disabled
            return {}
        return plan

    @property
    def postprocessing_note(self) -> str:
        """'; postprocessing from the model's training objects: class 1: ...' or '' when there is none."""
        from mia_core.object_scale import describe_postprocessing

        plan = self.postprocessing
        return f"; postprocessing from the model's training objects: {describe_postprocessing(plan)}" if plan else ""

    def postprocess(self, labels: LabelSet, view: Box | None = None) -> LabelSet:
        """Predicted labels after the model's postprocessing (objects cut by a predicted ``view``'s
        edges are not dropped as small: the rest of them lies outside)."""
        from mia_core.results import postprocess_by_class

        plan = self.postprocessing
        return postprocess_by_class(self.registry, labels, plan, view) if plan else labels

    @property
    def description(self) -> str:
        """One line for the status bar: which model and what it expects."""
        i = self.info
        return (f"{self.folder.name} ({i.architecture}/{i.backbone}, {i.num_classes} classes, "
                f"{i.in_channels}-channel images)")


@dataclass(frozen=True)
class FramePrediction:
    """The predicted contours of one image, or of one frame of a stack."""

    image_path: Path
    frame: int | None  # the label file's frame (None: a single image)
    labels: LabelSet


@dataclass
class FolderOutcome:
    """How a folder prediction went: frames written and the images that were skipped, with why."""

    predicted: int = 0
    images: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)


def load_model_job(folder: Path, registry: Any) -> Callable[[Report], LoadedModel]:
    """A task function that rebuilds a saved model (ModelLoadError names the folder)."""

    def job(report: Report) -> LoadedModel:
        report(0, 0)
        from mia_core.engine.checkpoint import load_model
        from mia_core.engine.predict import place_on_device

        model, info = load_model(folder, registry)
        place_on_device(model)
        report(0, 0)
        return LoadedModel(Path(folder), model, info, registry)

    return job


def frame_channels(frame: np.ndarray) -> int:
    """Channels of an (H, W) or (H, W, C) frame."""
    return 1 if frame.ndim == 2 else int(frame.shape[-1])


def channel_mismatch(frame: np.ndarray, model: LoadedModel, name: str) -> str | None:
    """Why the model cannot predict this frame (channels differ), or None when it can."""
    have, want = frame_channels(frame), int(model.info.in_channels)
    if have == want:
        return None
    kind = {1: "grey", 3: "RGB"}
    return (f"{name} has {have} channel(s) ({kind.get(have, 'other')}) but the model "
            f"{model.folder.name} was trained on {want}-channel ({kind.get(want, 'other')}) images")


def visible_box(left: float, top: float, right: float, bottom: float, shape: tuple[int, int]) -> Box | None:
    """Pixels (even partly) inside a view rectangle given in image coordinates (pixel i spans [i, i+1))."""
    h, w = shape
    x0, y0 = max(int(math.floor(left)), 0), max(int(math.floor(top)), 0)
    x1, y1 = min(int(math.ceil(right)), w), min(int(math.ceil(bottom)), h)
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def box_polygon(box: Box) -> np.ndarray:
    """The pixel-centre polygon whose filled area (boundary included) is exactly ``box``."""
    x0, y0, x1, y1 = box
    return np.array([[x0, y0], [x1 - 1, y0], [x1 - 1, y1 - 1], [x0, y1 - 1]], np.int32)


def merge_in_box(existing: LabelSet, predicted: LabelSet, box: Box) -> LabelSet:
    """Labels with everything inside ``box`` replaced by the prediction; outside stays as it was."""
    kept = existing.subtract_polygon(box_polygon(box)) if not existing.is_empty else existing
    return LabelSet(kept.contours + predicted.contours, existing.shape or predicted.shape)


def predict_frame_job(model: LoadedModel, frame: np.ndarray, name: str, box: Box | None = None,
                      tta: bool = False) -> Callable[[Report], LabelSet]:
    """A task function predicting one frame (only ``box`` when given) into contours."""

    def job(report: Report) -> LabelSet:
        report(0, 0)
        from mia_core.engine.predict import predict_frame

        fov = None if box is None else (box[0], box[1], box[2] - box[0], box[3] - box[1])
        class_map = predict_frame(model.model, frame, model.info, tta=tta, fov=fov, source=name,
                                  progress=report)  # tiles done / tiles in all
        report(0, 0)
        return model.postprocess(labels_from_class_map(class_map, ignore=IGNORED_CLASSES), box)

    return job


def predict_folder_job(model: LoadedModel, paths: list[Path], tta: bool = False) -> Callable[[Report, Emit], FolderOutcome]:
    """A task function predicting every frame of every image; emits one FramePrediction per frame.

    An image that cannot be read or does not fit the model is skipped (with the reason) and the
    others go on; cancelling stops between frames, keeping what was already emitted.
    """

    def job(report: Report, emit: Emit) -> FolderOutcome:
        from mia_core.engine.predict import PredictionError, predict_frame
        from mia_core.images import ImageReadError, read_image

        outcome = FolderOutcome()
        for i, path in enumerate(paths):
            report(i, len(paths))
            try:
                pixels = read_image(path)
            except ImageReadError as exc:
                outcome.skipped.append((path.name, exc.reason))
                continue
            frames = int(pixels.shape[0])
            problem = channel_mismatch(pixels[0], model, path.name)
            if problem:
                outcome.skipped.append((path.name, problem))
                continue
            for f in range(frames):
                report(i, len(paths))
                name = path.name if frames == 1 else f"{path.name} (frame {f})"
                try:
                    class_map = predict_frame(model.model, pixels[f], model.info, tta=tta, source=name)
                except PredictionError as exc:
                    outcome.skipped.append((name, str(exc)))
                    continue
                emit(FramePrediction(path, f if frames > 1 else None,
                                     model.postprocess(labels_from_class_map(class_map, ignore=IGNORED_CLASSES))))
                outcome.predicted += 1
            outcome.images += 1
        report(len(paths), len(paths))
        return outcome

    return job
