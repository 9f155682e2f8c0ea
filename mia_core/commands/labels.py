"""``mia labels``: bring masks made elsewhere in as label files, and write label files out as masks.

The conversions live in :mod:`mia_core.masks` (the app runs them too); this module holds the
command line.
"""

from __future__ import annotations

import argparse
from typing import Any

from mia_core.labels import MAX_CLASS_ID
from mia_core.masks import _MASK_MAX, MaskError, read_mask, run_export, run_import

__all__ = ["MaskError", "read_mask", "register", "run_export", "run_import"]


_MASK_VALUES_HELP = """\
mask values:
  class masks      a pixel's value is its class id (class 0 is the drawn background class); the
                   --unlabelled value (default 0) marks pixels that carry no label. Export writes
                   the same scheme, so import-masks and export-masks with the same --unlabelled give
                   back the same masks. Class ids go up to 32767: a larger value is refused unless
                   --class-map maps it (e.g. --class-map 255=1,128=2). A binary mask (only 0 and
                   the largest value of its type, e.g. 0/255 or 0/65535) is imported as class 1.
                   An image with both unlabelled pixels and contours of the class equal to
                   --unlabelled cannot be written faithfully and is refused: choose e.g.
                   --unlabelled 65535.
  --instances      each non-zero value is one object (0 = none); the value becomes the contour's
                   object number. Export writes each contour's object number; contours without one
                   get the next free numbers (contour order), so with no object numbers at all a
                   contour's value is its index + 1. Classes are not stored in instance masks.

empty masks:
  when some masks (or frames of a stack mask) hold labels and others hold none, the empty ones
  are ground truth too: they become background labels (class 0 over the whole image or frame)
  so they train as negative examples. --skip-empty leaves them without a label file instead.

stacks:
  a multi-page mask gives one label file per frame (<stem>_frameNNNN.npz); a single-page mask for a
  stack becomes the label shared by the whole stack (<stem>.npz). Export writes one page per frame,
  taking a frame's own label file, else the shared stack label.
"""


def register(subparsers: Any) -> None:
    """Add the ``labels`` sub-command group (``import-masks``, ``export-masks``)."""
    parser = subparsers.add_parser(
        "labels",
        help="import masks as label files, export label files as masks",
        description="Convert between mia's label files and mask images.",
    )
    actions = parser.add_subparsers(dest="labels_command", metavar="ACTION")
    parser.set_defaults(func=lambda args: _print_help(parser))

    imp = actions.add_parser(
        "import-masks",
        help="turn mask images into label files",
        description="For every image in FOLDER, the mask in --masks with the same stem (any image\n"
        "type) becomes that image's label file in FOLDER/Segmentation_labels. It holds the\n"
        "label folder's write lock: another import-masks or mia predict on FOLDER is refused\n"
        "meanwhile. Exits 1 when any mask failed or nothing was imported.",
        epilog=_MASK_VALUES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    imp.add_argument("folder", metavar="FOLDER", help="folder of images")
    imp.add_argument("--masks", required=True, metavar="DIR", help="folder of masks named like the images")
    imp.add_argument("--mask-suffix", default="", metavar="TEXT",
                     help="mask stems are image stem + TEXT (e.g. _mask for cell1_mask.png)")
    imp.add_argument("--instances", action="store_true", help="masks hold object numbers, not classes")
    imp.add_argument("--class-id", type=_class_id, default=None, metavar="N",
                     help="class of every imported region (instances: default 1; class masks: every "
                     "labelled value becomes class N, e.g. for 0/255 binary masks)")
    imp.add_argument("--class-map", type=_class_map, default=None, metavar="VALUE=CLASS,...",
                     help="class of each mask value, e.g. 255=1,128=2 (class masks; values not listed "
                     "other than --unlabelled are refused)")
    imp.add_argument("--unlabelled", type=_mask_value, default=0, metavar="V",
                     help="class-mask value meaning 'not labelled' (default 0)")
    imp.add_argument("--force", action="store_true", help="replace existing label files")
    imp.add_argument("--skip-empty", action="store_true",
                     help="write no label file for empty masks or frames (default: when other masks "
                     "hold labels, an empty one becomes background, class 0 over the whole image)")
    imp.add_argument("--mia-format", action="store_true", help="write MIA's own label layout")
    imp.set_defaults(func=run_import)

    exp = actions.add_parser(
        "export-masks",
        help="write label files as uint16 TIFF masks",
        description="Write one uint16 TIFF mask (<stem>.tif) per labelled image in FOLDER to --out;\n"
        "stacks become multi-page TIFFs. Images without any label file are skipped.",
        epilog=_MASK_VALUES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    exp.add_argument("folder", metavar="FOLDER", help="folder of images")
    exp.add_argument("--out", required=True, metavar="DIR", help="folder for the masks (created if needed)")
    exp.add_argument("--instances", action="store_true", help="write object numbers instead of classes")
    exp.add_argument("--unlabelled", type=_mask_value, default=0, metavar="V",
                     help="value written where nothing is labelled (default 0)")
    exp.add_argument("--force", action="store_true", help="replace existing mask files")
    exp.set_defaults(func=run_export)


def _print_help(parser: argparse.ArgumentParser) -> int:
    """``mia labels`` without an action."""
    parser.print_help()
    return 2


def _non_negative(text: str) -> int:
    """argparse type: a class id."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _class_id(text: str) -> int:
    """argparse type: a class id a class map can hold."""
    value = _non_negative(text)
    if value > MAX_CLASS_ID:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_CLASS_ID}, got {value}")
    return value


def _class_map(text: str) -> dict[int, int]:
    """argparse type: ``VALUE=CLASS,...`` pairs, mask value to class id."""
    mapping: dict[int, int] = {}
    for pair in (p.strip() for p in text.split(",")):
        value, sep, cls = pair.partition("=")
        try:
            if not sep:
                raise ValueError
            v, c = _mask_value(value.strip()), _class_id(cls.strip())
        except (ValueError, argparse.ArgumentTypeError) as exc:
            why = f": {exc}" if isinstance(exc, argparse.ArgumentTypeError) else ""
            raise argparse.ArgumentTypeError(
                f"{pair!r} is not VALUE=CLASS (mask value 0..{_MASK_MAX}, class 0..{MAX_CLASS_ID}){why}"
            ) from None
        if v in mapping and mapping[v] != c:
            raise argparse.ArgumentTypeError(f"value {v} is mapped twice ({mapping[v]} and {c})")
        mapping[v] = c
    return mapping


def _mask_value(text: str) -> int:
    """argparse type: a value a uint16 mask can hold."""
    value = int(text)
    if not 0 <= value <= _MASK_MAX:
        raise argparse.ArgumentTypeError(f"must be between 0 and {_MASK_MAX}, got {value}")
    return value
