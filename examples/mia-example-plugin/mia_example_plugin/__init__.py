"""An example third-party mia plugin: one labelling tool and one exporter.

mia finds this module through the ``example`` entry point in the ``mia`` group (see
``pyproject.toml``) and calls the hooks below once when it loads its plugins.
"""

from __future__ import annotations

from mia_core.hooks import hookimpl

from mia_example_plugin.measure import AreaCentroidExporter
from mia_example_plugin.stamp import StampTool

__version__ = "0.1.0"


@hookimpl
def mia_tools() -> list[StampTool]:
    """Offer the stamp tool in the viewer's toolbar."""
    return [StampTool()]


@hookimpl
def mia_exporters() -> list[AreaCentroidExporter]:
    """Offer the area/centroid table in the export dialog and ``mia export``."""
    return [AreaCentroidExporter()]
