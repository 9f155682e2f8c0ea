"""``mia models``: which architecture works with which backbone (the compatibility matrix)."""

from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

from mia_core import cli


def register(subparsers: Any) -> None:
    """Add the ``models`` sub-command."""
    parser = subparsers.add_parser(
        "models",
        help="print which architecture works with which backbone",
        description="Build every installed architecture with every installed backbone (shapes only, "
        "nothing is compiled or trained) and print the matrix: 'ok' where the pair returns logits of "
        "the input size, 'no' where it is refused, with the reasons below.",
    )
    parser.add_argument("--size", type=int, default=64, metavar="PX",
                        help="side of the test input in pixels, a multiple of 32 (default 64)")
    parser.add_argument("--arch", action="append", default=[], metavar="NAME",
                        help="only this architecture (repeatable)")
    parser.add_argument("--backbone", action="append", default=[], metavar="NAME",
                        help="only this backbone (repeatable)")
    cli.add_disable_option(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Print the matrix; 2 for a bad option or unknown name."""
    out = out or sys.stdout
    if args.size <= 0 or args.size % 32:
        print(f"mia models: --size must be a positive multiple of 32, got {args.size}", file=sys.stderr)
        return 2
    from mia_core.engine.model import pair_status
    from mia_core.plugins import load_plugins

    registry = load_plugins(disabled=cli.disabled_plugins(args))
    selected = {}
    for kind, wanted in (("architectures", args.arch), ("backbones", args.backbone)):
        names = registry.names(kind)
        unknown = [n for n in wanted if n not in names]
        if unknown:
            print(f"mia models: unknown {kind[:-1]} {', '.join(unknown)}; available: {', '.join(names)}",
                  file=sys.stderr)
            return 2
        selected[kind] = wanted or names
    archs, backbones = selected["architectures"], selected["backbones"]
    reasons: list[str] = []
    width = max([len(a) for a in archs] + [12])
    out.write(" " * width + "  " + "  ".join(backbones) + "\n")
    for arch in archs:
        cells = []
        for name in backbones:
            reason = pair_status(registry.get("architectures", arch), registry.get("backbones", name), args.size)
            cells.append(("ok" if reason is None else "no").ljust(len(name)))
            if reason:
                reasons.append(f"{arch} + {name}: {reason}")
        out.write((arch.ljust(width) + "  " + "  ".join(cells)).rstrip() + "\n")
        out.flush()
    if reasons:
        out.write("\nrefused:\n" + "".join(f"  {r}\n" for r in reasons))
    return 0
