"""``mia export``: one table row per labelled object of a folder (CSV or XLSX)."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from mia_core import cli


def register(subparsers: Any) -> None:
    """Add the ``export`` sub-command."""
    p = subparsers.add_parser(
        "export", help="measure every labelled object of a folder into a CSV or XLSX table",
        description="Measure every contour of the label files of FOLDER (area, perimeter, skeleton, "
        "intensities, centroid, bounding box) and write one row per contour (per object per frame "
        "with --tracking) to --out.",
    )
    p.add_argument("folder", metavar="FOLDER", help="folder of images with a Segmentation_labels folder")
    p.add_argument("--out", required=True, metavar="FILE", help="results.csv or results.xlsx")
    p.add_argument("--columns", metavar="A,B,...", help="columns to write (default: all)")
    p.add_argument("--min-size", type=int, default=3, metavar="N", help="leave out contours under N pixels (default 3)")
    p.add_argument("--pixel-size", type=float, metavar="UM", help="µm per pixel, for the µm columns")
    p.add_argument("--tracking", action="store_true", help="link objects across frames (stacks) or images")
    p.add_argument("--max-distance", type=float, default=35.0, metavar="PX", help="tracking: largest jump (default 35)")
    p.add_argument("--gap", type=int, default=1, metavar="N", help="tracking: frames an object may miss (default 1)")
    p.add_argument("--separate", action="store_true", help="split touching objects of a class first")
    p.add_argument("--delimiter", default=";", help="CSV delimiter (default ;)")
    p.add_argument("--sheets", choices=("one", "per-class"), default="one",
                   help="XLSX: all objects on one sheet (default) or one sheet per class; a Summary sheet either way")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    cli.add_disable_option(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Export the table; 0 on success, 2 on bad options, paths or images."""
    from mia_core.images import ImageReadError
    from mia_core.label_store import LabelFileError
    from mia_core.plugins import load_plugins
    from mia_core.results import ExportError, ExportSettings, export_folder

    out, err = out or sys.stdout, err or sys.stderr
    if args.pixel_size is not None and args.pixel_size <= 0:
        print(f"mia export: --pixel-size must be positive, got {args.pixel_size}", file=err)
        return 2
    columns = [c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None
    settings = ExportSettings(columns=columns, min_size=args.min_size, pixel_size=args.pixel_size,
                              tracking=args.tracking, separate=args.separate, max_distance=args.max_distance,
                              gap=args.gap, delimiter=args.delimiter,
                              sheet_per_class=args.sheets == "per-class")

    def report(done: int, total: int, name: str) -> None:
        if name:
            print(f"[{done + 1}/{total}] {name}", file=err, flush=True)

    try:
        n = export_folder(load_plugins(disabled=cli.disabled_plugins(args)), args.folder, args.out,
                          settings, force=args.force, progress=report)
    except (ExportError, ImageReadError, LabelFileError) as exc:
        print(f"mia export: {exc}", file=err)
        return 2
    except OSError as exc:
        print(f"mia export: cannot write {args.out}: {exc.strerror or exc}", file=err)
        return 2
    if n == 0:
        print(f"no labelled objects in {args.folder}; wrote a table with the header only to {args.out}", file=out)
    else:
        print(f"wrote {n} row(s) to {args.out}", file=out)
    return 0
