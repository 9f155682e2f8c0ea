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
    )

PROJECT = "mia"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def mia_tools() -> list["Tool"]:
    """Return labelling tools.

    Called once when the plugin manager loads.  Each tool receives pointer events in image
    coordinates through :class:`mia_core.api.ToolContext` and edits the label document; the
    viewer adds one toolbar button per tool (``label``, ``icon``, ``shortcut``).
    """


@hookspec
def mia_assistants() -> list["Assistant"]:
    """Return labelling assistants (GrabCut, edge detection, DEXTR ...).

    Called once at load.  An assistant's ``predict(image, hints)`` is called when the user asks
    for help on a region; it returns a boolean mask of the same height and width as ``image``.
    """


@hookspec
def mia_architectures() -> list["Architecture"]:
    """Return segmentation architectures (U-Net, FPN ...).

    Called once at load; ``build`` is called when a model is created for training or loaded for
    prediction, with the chosen backbone.  An architecture that cannot use a backbone raises
    ``ValueError`` naming both.
    """


@hookspec
def mia_backbones() -> list["Backbone"]:
    """Return encoders for architectures.

    Called once at load; ``build`` is called when a model is created.  ``strides`` lists the
    feature-map strides the encoder provides.
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
    (:class:`mia_core.api.SequencePostprocessor`).
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
